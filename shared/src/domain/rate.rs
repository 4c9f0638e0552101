//! Rate-limit policy as values: route groups, who is counted, the rules per (audience, group),
//! and what a count decided. The counting itself is `service::RateLimiter`.

use std::collections::HashMap;

use super::access::Role;

/// Routes are limited per group, so a burst of reads does not use up a caller's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteGroup {
    Read,
    Write,
    Search,
    Admin,
}

impl RouteGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteGroup::Read => "read",
            RouteGroup::Write => "write",
            RouteGroup::Search => "search",
            RouteGroup::Admin => "admin",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [RouteGroup::Read, RouteGroup::Write, RouteGroup::Search, RouteGroup::Admin]
            .into_iter()
            .find(|group| group.as_str() == raw)
    }
}

/// Who is counted: a role, or unauthenticated callers (counted per client IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Anonymous,
    Role(Role),
}

impl Audience {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "anonymous" => Some(Audience::Anonymous),
            role => Role::parse(role).map(Audience::Role),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window_seconds: u32,
}

/// Limits per (audience, route group). A pair without a rule is not limited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateRules(HashMap<(Audience, RouteGroup), Rule>);

const DEFAULT_RULES: &str = "anonymous:read=60/60,anonymous:write=60/60,anonymous:search=60/60,anonymous:admin=60/60,\
user:read=600/60,user:write=120/60,user:search=120/60,\
moderator:read=1200/60,moderator:write=600/60,moderator:search=300/60,\
admin:read=3000/60,admin:write=1200/60,admin:search=600/60,admin:admin=60/60";

impl RateRules {
    /// No limits at all.
    pub fn off() -> Self {
        Self::default()
    }

    /// The defaults, documented in the README.
    pub fn defaults() -> Self {
        Self::parse(DEFAULT_RULES).unwrap_or_default()
    }

    /// `audience:group=limit/seconds` pairs separated by commas, e.g. `user:write=120/60`; `off` for none.
    pub fn parse(raw: &str) -> Result<Self, BadRateRule> {
        if raw.trim() == "off" {
            return Ok(Self::off());
        }
        let mut rules = HashMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || BadRateRule(entry.to_owned());
            let (scope, rule) = entry.split_once('=').ok_or_else(bad)?;
            let (audience, group) = scope.split_once(':').ok_or_else(bad)?;
            let (limit, window) = rule.split_once('/').ok_or_else(bad)?;
            let audience = Audience::parse(audience.trim()).ok_or_else(bad)?;
            let group = RouteGroup::parse(group.trim()).ok_or_else(bad)?;
            let limit: u32 = limit.trim().parse().map_err(|_| bad())?;
            let window_seconds: u32 = window.trim().parse().ok().filter(|w| *w > 0).ok_or_else(bad)?;
            rules.insert((audience, group), Rule { limit, window_seconds });
        }
        Ok(Self(rules))
    }

    pub fn with(mut self, audience: Audience, group: RouteGroup, rule: Rule) -> Self {
        self.0.insert((audience, group), rule);
        self
    }

    pub fn rule(&self, audience: Audience, group: RouteGroup) -> Option<Rule> {
        self.0.get(&(audience, group)).copied()
    }
}

/// A `RATE_LIMITS` entry that is not `audience:group=limit/seconds`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad rate rule {0:?}: expected audience:group=limit/seconds")]
pub struct BadRateRule(pub String);

/// What the limiter decided, and what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateOutcome {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_rejects_nonsense() {
        let rules = RateRules::parse("user:write=20/60, anonymous:read=5/1").unwrap();
        assert_eq!(
            rules.rule(Audience::Role(Role::User), RouteGroup::Write),
            Some(Rule { limit: 20, window_seconds: 60 })
        );
        assert_eq!(rules.rule(Audience::Anonymous, RouteGroup::Read), Some(Rule { limit: 5, window_seconds: 1 }));
        assert_eq!(rules.rule(Audience::Role(Role::Admin), RouteGroup::Read), None);
        for bad in ["user:write=20", "root:read=1/1", "user:read=x/60", "user:read=1/0", "user=1/1"] {
            assert!(RateRules::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RateRules::parse("off").unwrap(), RateRules::off());
        assert!(RateRules::defaults().rule(Audience::Role(Role::User), RouteGroup::Read).is_some());
    }
}
