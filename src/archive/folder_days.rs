//! Restrictions on the delivery-date folder itself (`.../2017/06/01/`), as Athena users state
//! them with partition columns (`year = '2017' AND month = '06'`, `"timestamp" >= '2017/06/01'`).
//!
//! Unlike an event-time range these are exact: a partition value is the folder's name, so no
//! late-delivery margin or clock skew widens them.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

/// Which delivery-date folders are wanted. `None` everywhere means all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderDays {
    /// Inclusive bounds on the folder date.
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    /// Allowed years, months and days of month (from equalities and `IN` lists).
    pub years: Option<BTreeSet<u32>>,
    pub months: Option<BTreeSet<u32>>,
    pub days: Option<BTreeSet<u32>>,
}

/// Above this many (year, month, day) combinations the bounds are not narrowed by the sets.
const MAX_COMBINATIONS: usize = 4096;

impl FolderDays {
    pub fn is_unrestricted(&self) -> bool {
        *self == FolderDays::default()
    }

    pub fn allows(&self, date: NaiveDate) -> bool {
        let within =
            |set: &Option<BTreeSet<u32>>, v: u32| set.as_ref().is_none_or(|s| s.contains(&v));
        self.first.is_none_or(|f| date >= f)
            && self.last.is_none_or(|l| date <= l)
            && within(&self.years, date.year() as u32)
            && within(&self.months, date.month())
            && within(&self.days, date.day())
    }

    /// Narrows to `first..=last`.
    pub fn bound(&mut self, first: Option<NaiveDate>, last: Option<NaiveDate>) {
        if let Some(f) = first {
            self.first = Some(self.first.map_or(f, |g| g.max(f)));
        }
        if let Some(l) = last {
            self.last = Some(self.last.map_or(l, |m| m.min(l)));
        }
    }

    pub fn restrict_years(&mut self, values: BTreeSet<u32>) {
        restrict(&mut self.years, values);
    }

    pub fn restrict_months(&mut self, values: BTreeSet<u32>) {
        restrict(&mut self.months, values);
    }

    pub fn restrict_days(&mut self, values: BTreeSet<u32>) {
        restrict(&mut self.days, values);
    }

    /// Both restrictions.
    pub fn intersect(&self, other: &FolderDays) -> FolderDays {
        let mut out = self.clone();
        out.bound(other.first, other.last);
        for (mine, theirs) in [
            (&mut out.years, &other.years),
            (&mut out.months, &other.months),
            (&mut out.days, &other.days),
        ] {
            if let Some(values) = theirs {
                restrict(mine, values.clone());
            }
        }
        out
    }

    /// The smallest date range holding every allowed folder (`None` = unbounded side), so that
    /// listing reaches exactly the folders the sets name when they name a year.
    pub fn hull(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let Some(years) = &self.years else {
            return (self.first, self.last);
        };
        let months: Vec<u32> = self
            .months
            .as_ref()
            .map_or_else(|| (1..=12).collect(), |m| m.iter().copied().collect());
        let days: Vec<u32> = self
            .days
            .as_ref()
            .map_or_else(|| (1..=31).collect(), |d| d.iter().copied().collect());
        if years.len() * months.len() * days.len() > MAX_COMBINATIONS {
            return (self.first, self.last);
        }
        let (mut lowest, mut highest) = (None::<NaiveDate>, None::<NaiveDate>);
        for &y in years {
            for &m in &months {
                for &d in &days {
                    let Some(date) = NaiveDate::from_ymd_opt(y as i32, m, d) else {
                        continue;
                    };
                    if self.allows(date) {
                        lowest = Some(lowest.map_or(date, |l| l.min(date)));
                        highest = Some(highest.map_or(date, |h| h.max(date)));
                    }
                }
            }
        }
        match lowest.zip(highest) {
            Some((l, h)) => (Some(l), Some(h)),
            // Nothing is allowed: an empty range, which lists no folder.
            None => (Some(NaiveDate::MAX), Some(NaiveDate::MIN)),
        }
    }
}

fn restrict(target: &mut Option<BTreeSet<u32>>, values: BTreeSet<u32>) {
    *target = Some(match target.take() {
        None => values,
        Some(current) => current.intersection(&values).copied().collect(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn year_month_and_day_sets_make_an_exact_range() {
        let mut folders = FolderDays::default();
        folders.restrict_years(BTreeSet::from([2017]));
        folders.restrict_months(BTreeSet::from([6]));
        assert_eq!(
            folders.hull(),
            (Some(day("2017-06-01")), Some(day("2017-06-30")))
        );
        folders.restrict_days(BTreeSet::from([1]));
        assert_eq!(
            folders.hull(),
            (Some(day("2017-06-01")), Some(day("2017-06-01")))
        );
        assert!(folders.allows(day("2017-06-01")));
        assert!(!folders.allows(day("2017-07-01")));
    }

    #[test]
    fn a_month_without_a_year_filters_but_does_not_bound() {
        let mut folders = FolderDays::default();
        folders.restrict_months(BTreeSet::from([3]));
        assert_eq!(folders.hull(), (None, None));
        assert!(folders.allows(day("2019-03-31")));
        assert!(!folders.allows(day("2019-04-01")));
    }

    #[test]
    fn contradictions_allow_nothing() {
        let mut folders = FolderDays::default();
        folders.restrict_years(BTreeSet::from([2017]));
        folders.restrict_years(BTreeSet::from([2018]));
        let (first, last) = folders.hull();
        assert!(first > last);
        assert!(!folders.allows(day("2017-01-01")));
        let bounded = FolderDays {
            first: Some(day("2018-01-01")),
            ..FolderDays::default()
        };
        let mut y2017 = FolderDays::default();
        y2017.restrict_years(BTreeSet::from([2017]));
        let (first, last) = bounded.intersect(&y2017).hull();
        assert!(first > last);
    }
}
