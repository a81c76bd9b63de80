//! The typed values that rows carry as strings: a run's status and a scored corpus's role.

use std::fmt;
use std::str::FromStr;

use anyhow::bail;

/// How a run ended: `ok`, or `failed` (its error says why). A run is recorded as failed until
/// it completes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    #[default]
    Failed,
}

/// What a scored corpus is to the run: `own` (trained on), `cross` (another style of the grid),
/// `general` (the near-domain control), `probe` (out of domain, for forgetting) or
/// `validation` (train blocks held out of training).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    #[default]
    Own,
    Cross,
    General,
    Probe,
    Validation,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }
}

impl Role {
    pub const ALL: [Role; 5] = [
        Self::Own,
        Self::Cross,
        Self::General,
        Self::Probe,
        Self::Validation,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Cross => "cross",
            Self::General => "general",
            Self::Probe => "probe",
            Self::Validation => "validation",
        }
    }
}

impl FromStr for Status {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "ok" => Ok(Self::Ok),
            "failed" => Ok(Self::Failed),
            other => bail!("run status `{other}`: expected ok or failed"),
        }
    }
}

impl FromStr for Role {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match Self::ALL.into_iter().find(|r| r.as_str() == s) {
            Some(r) => Ok(r),
            None => bail!("corpus role `{s}`: expected own, cross, general, probe or validation"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_strangers_are_named() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        for s in [Status::Ok, Status::Failed] {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        let e = "done".parse::<Status>().unwrap_err().to_string();
        assert!(e.contains("`done`"), "{e}");
        assert!("chat".parse::<Role>().is_err());
    }
}
