//! What a run cost: its token usage as the agent CLI reported it (see `agents` for each
//! CLI's rule), its cost in USD — reported by the CLI, or estimated from the profile's
//! prices — and the budgets that stop a run crossing them.

use serde::{Deserialize, Serialize};

/// Token usage of a run so far; None where the CLI does not report that number.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// Adds `other` to `self`, field by field; a field stays None only if both are.
    pub fn add(&mut self, other: &Usage) {
        add_u64(&mut self.input_tokens, other.input_tokens);
        add_u64(&mut self.cached_input_tokens, other.cached_input_tokens);
        add_u64(&mut self.output_tokens, other.output_tokens);
        add_u64(&mut self.reasoning_tokens, other.reasoning_tokens);
        if let Some(cost) = other.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

fn add_u64(total: &mut Option<u64>, value: Option<u64>) {
    if let Some(value) = value {
        *total = Some(total.unwrap_or(0).saturating_add(value));
    }
}

/// Tokens one run used; `None` where the CLI does not say. `input_tokens` counts every
/// input token, cached ones included; `output_tokens` every output token, reasoning
/// included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[allow(clippy::struct_field_names)] // the names of run.json's fields
pub struct Tokens {
    pub input_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

impl Tokens {
    pub fn from_events(u: &Usage) -> Tokens {
        Tokens {
            input_tokens: u.input_tokens,
            cached_input_tokens: u.cached_input_tokens,
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }

    /// Input plus output: what `--max-tokens` counts.
    pub fn total(&self) -> Option<u64> {
        match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
        }
    }

    /// `self - base`, field by field (a session's running total minus what the runs
    /// before this one used).
    pub fn minus(&self, base: &Tokens) -> Tokens {
        let sub = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
        Tokens {
            input_tokens: sub(self.input_tokens, base.input_tokens),
            cached_input_tokens: sub(self.cached_input_tokens, base.cached_input_tokens),
            output_tokens: sub(self.output_tokens, base.output_tokens),
            reasoning_tokens: sub(self.reasoning_tokens, base.reasoning_tokens),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Tokens::default()
    }
}

/// A profile's prices, USD per million tokens, for CLIs that report tokens but no
/// cost. agent-offload ships no price list: one would go stale silently.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    /// Cached input tokens (default: the input price).
    #[serde(default)]
    pub cached_input: Option<f64>,
    pub output: f64,
}

impl Price {
    pub fn cost(&self, t: &Tokens) -> f64 {
        let input = t.input_tokens.unwrap_or(0);
        let cached = t.cached_input_tokens.unwrap_or(0).min(input);
        #[allow(clippy::cast_precision_loss)] // token counts are far below 2^52
        let (fresh, cached, output) = (
            (input - cached) as f64,
            cached as f64,
            t.output_tokens.unwrap_or(0) as f64,
        );
        (fresh * self.input
            + cached * self.cached_input.unwrap_or(self.input)
            + output * self.output)
            / 1e6
    }
}

/// Where a run's `cost_usd` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// The agent CLI said what it cost.
    Reported,
    /// From the tokens and the profile's `price`.
    Estimated,
    /// Not known.
    None,
}

/// A run's metering: its budgets, its profile's prices, and (for a resumed session
/// whose CLI reports a running total) what the earlier runs of the session used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Tokens>,
}

/// A run's usage and cost, as recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    pub tokens: Tokens,
    pub cost_usd: Option<f64>,
    pub cost_source: CostSource,
}

impl Meter {
    pub fn has_budget(&self) -> bool {
        self.max_tokens.is_some() || self.max_cost.is_some()
    }

    /// What this run spent, from what its CLI reported so far (`session`: the usage is
    /// the session's running total).
    pub fn spent(&self, reported: &Usage, session: bool) -> Spent {
        let raw = Tokens::from_events(reported);
        let tokens = match (&self.base, session) {
            (Some(base), true) => raw.minus(base),
            _ => raw,
        };
        // opencode and pi report a cost of 0 for a model they have no price for: with
        // tokens used, that is no cost known, not a free run.
        let reported_cost = reported
            .cost_usd
            .filter(|c| *c > 0.0 || tokens.total().unwrap_or(0) == 0);
        let (cost_usd, cost_source) = match (reported_cost, self.price) {
            (Some(c), _) => (Some(c), CostSource::Reported),
            (None, Some(p)) if !tokens.is_empty() => (Some(p.cost(&tokens)), CostSource::Estimated),
            _ => (None, CostSource::None),
        };
        Spent {
            tokens,
            cost_usd,
            cost_source,
        }
    }

    /// Which budget `spent` crosses, in words: `12034 tokens, over --max-tokens 10000`.
    pub fn crossed(&self, spent: &Spent) -> Option<String> {
        if let (Some(max), Some(used)) = (self.max_tokens, spent.tokens.total())
            && used > max
        {
            return Some(format!(
                "{used} tokens used, over the budget of {max} tokens"
            ));
        }
        if let (Some(max), Some(cost)) = (self.max_cost, spent.cost_usd)
            && cost > max
        {
            return Some(format!("${cost:.4} spent, over the budget of ${max:.2}"));
        }
        None
    }
}

/// `12.3k`, `1.2M`: a token count for a table.
pub fn short_count(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", f / 1e3),
        _ => format!("{:.1}M", f / 1e6),
    }
}

/// What a `Usage` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageScope {
    /// This run (one process) alone.
    Run,
    /// The session so far: a resumed session's earlier runs are included. The run's own
    /// usage is this minus the total recorded for the run it resumed.
    Session,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(input: u64, cached: u64, output: u64, cost: Option<f64>) -> Usage {
        Usage {
            input_tokens: Some(input),
            cached_input_tokens: Some(cached),
            output_tokens: Some(output),
            reasoning_tokens: None,
            cost_usd: cost,
        }
    }

    #[test]
    fn reported_cost_wins_and_a_price_estimates_the_rest() {
        let price = Price {
            input: 2.0,
            cached_input: Some(0.5),
            output: 10.0,
        };
        let m = Meter {
            price: Some(price),
            ..Meter::default()
        };
        let s = m.spent(&reported(1_000_000, 400_000, 100_000, Some(1.25)), false);
        assert_eq!(s.cost_source, CostSource::Reported);
        assert_eq!(s.cost_usd, Some(1.25));
        // 600k fresh * 2 + 400k cached * 0.5 + 100k out * 10, per million.
        let s = m.spent(&reported(1_000_000, 400_000, 100_000, None), false);
        assert_eq!(s.cost_source, CostSource::Estimated);
        assert!((s.cost_usd.unwrap() - 2.4).abs() < 1e-9);
        // A cost of 0 with tokens used is no cost known.
        let s = m.spent(&reported(10, 0, 5, Some(0.0)), false);
        assert_eq!(s.cost_source, CostSource::Estimated);
        let none = Meter::default().spent(&reported(10, 0, 5, None), false);
        assert_eq!((none.cost_usd, none.cost_source), (None, CostSource::None));
    }

    #[test]
    fn a_session_total_is_counted_from_the_base() {
        let m = Meter {
            base: Some(Tokens {
                input_tokens: Some(20),
                cached_input_tokens: Some(0),
                output_tokens: Some(10),
                reasoning_tokens: None,
            }),
            max_tokens: Some(40),
            ..Meter::default()
        };
        let s = m.spent(&reported(40, 0, 20, None), true);
        assert_eq!(s.tokens.total(), Some(30));
        assert_eq!(m.crossed(&s), None);
        let s = m.spent(&reported(60, 0, 30, None), true);
        assert_eq!(
            m.crossed(&s).as_deref(),
            Some("60 tokens used, over the budget of 40 tokens")
        );
        // Not a session total: taken as it is.
        assert_eq!(
            m.spent(&reported(40, 0, 20, None), false).tokens.total(),
            Some(60)
        );
    }

    #[test]
    fn cost_budgets_cross_on_cost() {
        let m = Meter {
            max_cost: Some(1.0),
            ..Meter::default()
        };
        assert_eq!(
            m.crossed(&m.spent(&reported(1, 0, 1, Some(0.99)), false)),
            None
        );
        assert_eq!(
            m.crossed(&m.spent(&reported(1, 0, 1, Some(1.01)), false))
                .as_deref(),
            Some("$1.0100 spent, over the budget of $1.00")
        );
        assert_eq!(short_count(999), "999");
        assert_eq!(short_count(12_345), "12.3k");
        assert_eq!(short_count(1_234_567), "1.2M");
    }
}
