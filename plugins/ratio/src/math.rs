//! Ratio arithmetic, pure. A ratio `U:D` allows D units down per U units up; the allowance is
//! `up * D / U + credit`; a download of `want` units fits if `down + want <= allowance`.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub up: u64,
    pub down: u64,
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Ratio, String> {
        let bad = || format!("'{s}' is not a ratio like 1:3 (up:down)");
        let (u, d) = s.trim().split_once(':').ok_or_else(bad)?;
        let up: u64 = u.trim().parse().map_err(|_| bad())?;
        let down: u64 = d.trim().parse().map_err(|_| bad())?;
        if up == 0 {
            return Err(bad());
        }
        Ok(Ratio { up, down })
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.up, self.down)
    }
}

/// One dimension (files or bytes) of a user's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub allowance: u128,
    pub used: u128,
}

impl Standing {
    pub fn new(ratio: Ratio, up: u64, down: u64, credit: u64) -> Standing {
        Standing {
            allowance: up as u128 * ratio.down as u128 / ratio.up as u128 + credit as u128,
            used: down as u128,
        }
    }

    /// What may still be downloaded.
    pub fn left(&self) -> u128 {
        self.allowance.saturating_sub(self.used)
    }

    /// None if `want` fits; otherwise how much must be uploaded first (None-able ratio with
    /// down = 0 can never fit: u128::MAX).
    pub fn upload_needed(&self, ratio: Ratio, want: u128) -> Option<u128> {
        let deficit = (self.used + want)
            .checked_sub(self.allowance)
            .filter(|d| *d > 0)?;
        if ratio.down == 0 {
            return Some(u128::MAX);
        }
        // Smallest upload x with x * D / U >= deficit (the allowance rounds down).
        let (u, d) = (ratio.up as u128, ratio.down as u128);
        Some((deficit * u).div_ceil(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!("1:3".parse(), Ok(Ratio { up: 1, down: 3 }));
        assert_eq!(" 2 : 5 ".parse(), Ok(Ratio { up: 2, down: 5 }));
        assert!("0:3".parse::<Ratio>().is_err());
        assert!("3".parse::<Ratio>().is_err());
        assert!("-1:3".parse::<Ratio>().is_err());
    }

    #[test]
    fn allowance_and_what_must_be_uploaded() {
        let r: Ratio = "1:3".parse().unwrap();
        let s = Standing::new(r, 2, 5, 0);
        assert_eq!((s.allowance, s.left()), (6, 1));
        assert_eq!(s.upload_needed(r, 1), None);
        assert_eq!(s.upload_needed(r, 2), Some(1));
        assert_eq!(s.upload_needed(r, 4), Some(1));
        assert_eq!(s.upload_needed(r, 5), Some(2));
        let r: Ratio = "2:3".parse().unwrap();
        let s = Standing::new(r, 1, 0, 0); // 1 * 3 / 2 = 1
        assert_eq!(s.allowance, 1);
        let need = s.upload_needed(r, 3).unwrap(); // deficit 2 -> x*3/2 >= 2 -> x = 2 (total up 3 -> 4)
        assert_eq!(need, 2);
        assert!(
            Standing::new(r, 1 + need as u64, 0, 0)
                .upload_needed(r, 3)
                .is_none()
        );
        // Credit, huge numbers, and a ratio that allows nothing.
        assert_eq!(Standing::new(r, 0, 0, 10).upload_needed(r, 10), None);
        let big = Standing::new("1:1000".parse().unwrap(), u64::MAX, u64::MAX, u64::MAX);
        assert!(big.left() > 0);
        let none: Ratio = "1:0".parse().unwrap();
        assert_eq!(
            Standing::new(none, 100, 0, 0).upload_needed(none, 1),
            Some(u128::MAX)
        );
    }
}
