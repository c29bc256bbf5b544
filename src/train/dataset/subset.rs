//! Balanced subsets of a [`Dataset`]: class expressions (`AU6+AU12`, `neither`), seeded
//! picks without duplicates, and a stratified train/val/test split with a report per class.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::{au_index, au_number, Dataset, Sample};
use crate::error::{Error, Result};
use crate::frame::AU_NUMBERS;
use crate::util::rng::SplitMix64;

/// One class of a balanced subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassExpr {
    /// All these AUs (indices into [`AU_NUMBERS`]) known present.
    AllOf(Vec<usize>),
    /// None of the AUs named by the other classes present: all of them known absent.
    Neither,
}

const CLASS_EXPECTED: &str =
    "AUs among 1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26 joined by '+' (AU6+AU12), or neither/none";

impl ClassExpr {
    /// Parses `AU6`, `AU6+AU12` (a conjunction; `au06`, `6` also accepted), `neither` or
    /// `none`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for anything else, including AUs that are not annotated.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("neither") || t.eq_ignore_ascii_case("none") {
            return Ok(ClassExpr::Neither);
        }
        let mut aus = Vec::new();
        for part in t.split('+') {
            let part = part.trim();
            let number = if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
                part.parse().ok()
            } else {
                au_number(part)
            };
            let index = number
                .and_then(au_index)
                .ok_or_else(|| Error::config("class", text, CLASS_EXPECTED))?;
            if !aus.contains(&index) {
                aus.push(index);
            }
        }
        aus.sort_unstable();
        Ok(ClassExpr::AllOf(aus))
    }

    /// `AU6+AU12` or `neither`.
    pub fn name(&self) -> String {
        match self {
            ClassExpr::Neither => "neither".into(),
            ClassExpr::AllOf(aus) => aus
                .iter()
                .map(|&i| format!("AU{}", AU_NUMBERS[i]))
                .collect::<Vec<_>>()
                .join("+"),
        }
    }
}

impl FromStr for ClassExpr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ClassExpr::parse(s)
    }
}

impl fmt::Display for ClassExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Parses a comma-separated class list such as `AU6,AU12,neither` or `AU6+AU12,neither`.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad class, a repeated class, an empty list, or `neither`
/// without any AU class.
pub fn parse_classes(text: &str) -> Result<Vec<ClassExpr>> {
    let mut classes: Vec<ClassExpr> = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let class = ClassExpr::parse(part)?;
        if classes.contains(&class) {
            return Err(Error::config("classes", text, "each class once"));
        }
        classes.push(class);
    }
    check_classes(&classes, text)?;
    Ok(classes)
}

fn check_classes(classes: &[ClassExpr], text: &str) -> Result<()> {
    if !classes.iter().any(|c| matches!(c, ClassExpr::AllOf(_))) {
        return Err(Error::config(
            "classes",
            text,
            "at least one AU class (neither alone selects nothing)",
        ));
    }
    Ok(())
}

/// What a subset holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubsetSpec {
    /// Up to `per_class` samples of each class.
    Classes {
        classes: Vec<ClassExpr>,
        per_class: usize,
    },
    /// AU6 and AU12 present ("happy") vs. both absent ("neither"); samples with either
    /// unknown, or with only one of them, are excluded.
    Happy { per_class: usize },
}

/// Train/validation/test fractions; they sum to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitFractions {
    pub train: f64,
    pub val: f64,
    pub test: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            train: 0.7,
            val: 0.15,
            test: 0.15,
        }
    }
}

impl SplitFractions {
    /// # Errors
    /// [`Error::InvalidConfig`] unless all three are finite, >= 0 and sum to 1.
    pub fn validate(&self) -> Result<()> {
        let all = [self.train, self.val, self.test];
        let sum: f64 = all.iter().sum();
        if all.iter().any(|f| !f.is_finite() || *f < 0.0) || (sum - 1.0).abs() > 1e-6 {
            return Err(Error::config(
                "split fractions",
                format!("{}/{}/{}", self.train, self.val, self.test),
                "three fractions >= 0 summing to 1",
            ));
        }
        Ok(())
    }
}

/// How one class fared in a subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassReport {
    pub name: String,
    /// Samples of the dataset in this class.
    pub available: usize,
    /// Samples picked for this class (at most `per_class`).
    pub picked: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

/// A balanced subset split three ways, with a report per class.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    pub test: Vec<Sample>,
    /// One per class, in the order of the spec.
    pub classes: Vec<ClassReport>,
    pub per_class: usize,
}

impl Splits {
    /// Classes that got fewer than `per_class` samples.
    pub fn short_classes(&self) -> Vec<&ClassReport> {
        self.classes
            .iter()
            .filter(|c| c.picked < self.per_class)
            .collect()
    }
}

impl fmt::Display for Splits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} train, {} val, {} test ({} per class requested)",
            self.train.len(),
            self.val.len(),
            self.test.len(),
            self.per_class
        )?;
        for c in &self.classes {
            write!(
                f,
                "  {:<20} available {:>7}  picked {:>6}  (train {}, val {}, test {})",
                c.name, c.available, c.picked, c.train, c.val, c.test
            )?;
            if c.picked < self.per_class {
                write!(f, "  SHORT by {}", self.per_class - c.picked)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Whether a sample belongs to a class; `listed` holds every AU named by the AU classes.
fn is_member(sample: &Sample, class: &ClassExpr, listed: &[usize]) -> bool {
    match class {
        ClassExpr::AllOf(aus) => aus.iter().all(|&i| sample.aus[i] == Some(true)),
        ClassExpr::Neither => listed.iter().all(|&i| sample.aus[i] == Some(false)),
    }
}

/// [`subset_with_fractions`] with the default 0.7 / 0.15 / 0.15 split.
///
/// # Errors
/// As [`subset_with_fractions`].
pub fn subset(ds: &Dataset, spec: &SubsetSpec, seed: u64) -> Result<Splits> {
    subset_with_fractions(ds, spec, &SplitFractions::default(), seed)
}

/// Picks up to `per_class` samples per class, without replacement and seeded, then splits
/// each class's picks into train/val/test by `fractions` (stratified by class).
///
/// A sample may belong to several classes (an image with AU6 and AU12 is in both classes of
/// `AU6,AU12`) but is picked at most once: classes are filled from the rarest up, and a
/// sample picked for one class is not picked again, so the subset has no duplicates. A class
/// then holds exactly its `picked` samples as picks, though the subset may contain more of
/// its members (picked for other classes). Classes with fewer than `per_class` samples
/// available take all they can and are listed by [`Splits::short_classes`]. Samples with an
/// unknown label for an AU a class needs are never members of it.
///
/// # Errors
/// [`Error::InvalidConfig`] for `per_class` 0, bad fractions, no AU class, or a repeated
/// class.
pub fn subset_with_fractions(
    ds: &Dataset,
    spec: &SubsetSpec,
    fractions: &SplitFractions,
    seed: u64,
) -> Result<Splits> {
    fractions.validate()?;
    let (classes, per_class, names) = match spec {
        SubsetSpec::Classes { classes, per_class } => {
            let text = classes
                .iter()
                .map(ClassExpr::name)
                .collect::<Vec<_>>()
                .join(",");
            check_classes(classes, &text)?;
            let unique: BTreeSet<String> = classes.iter().map(ClassExpr::name).collect();
            if unique.len() != classes.len() {
                return Err(Error::config("classes", text, "each class once"));
            }
            (
                classes.clone(),
                *per_class,
                classes.iter().map(ClassExpr::name).collect::<Vec<_>>(),
            )
        }
        SubsetSpec::Happy { per_class } => {
            let happy = ClassExpr::AllOf(vec![4, 6]);
            debug_assert_eq!(happy.name(), "AU6+AU12");
            (
                vec![happy, ClassExpr::Neither],
                *per_class,
                vec!["happy (AU6+AU12)".to_string(), "neither".to_string()],
            )
        }
    };
    if per_class == 0 {
        return Err(Error::config("per_class", per_class, ">= 1"));
    }
    let listed: Vec<usize> = classes
        .iter()
        .flat_map(|c| match c {
            ClassExpr::AllOf(aus) => aus.clone(),
            ClassExpr::Neither => Vec::new(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let members: Vec<Vec<usize>> = classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let mut m: Vec<usize> = ds
                .samples
                .iter()
                .enumerate()
                .filter(|(_, s)| is_member(s, class, &listed))
                .map(|(i, _)| i)
                .collect();
            // Each class has its own stream, so adding a class leaves the others' order be.
            SplitMix64::new(SplitMix64::derive(seed, c as u64)).shuffle(&mut m);
            m
        })
        .collect();
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by_key(|&c| (members[c].len(), c));
    let mut taken = vec![false; ds.samples.len()];
    let mut picks: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for &c in &order {
        for &i in &members[c] {
            if picks[c].len() >= per_class {
                break;
            }
            if !taken[i] {
                taken[i] = true;
                picks[c].push(i);
            }
        }
    }
    let mut splits = Splits {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
        classes: Vec::new(),
        per_class,
    };
    for (c, picked) in picks.iter().enumerate() {
        let n = picked.len();
        // Cumulative rounding: the three parts always add up to n.
        let train_end = ((n as f64 * fractions.train).round() as usize).min(n);
        let val_end =
            ((n as f64 * (fractions.train + fractions.val)).round() as usize).clamp(train_end, n);
        let take = |range: std::ops::Range<usize>| -> Vec<Sample> {
            picked[range]
                .iter()
                .map(|&i| ds.samples[i].clone())
                .collect()
        };
        splits.train.extend(take(0..train_end));
        splits.val.extend(take(train_end..val_end));
        splits.test.extend(take(val_end..n));
        splits.classes.push(ClassReport {
            name: names[c].clone(),
            available: members[c].len(),
            picked: n,
            train: train_end,
            val: val_end - train_end,
            test: n - val_end,
        });
    }
    let mut rng = SplitMix64::new(SplitMix64::derive(seed, u64::MAX));
    rng.shuffle(&mut splits.train);
    rng.shuffle(&mut splits.val);
    rng.shuffle(&mut splits.test);
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::frame::NUM_AUS;

    /// A sample with the given AUs present, the rest absent.
    fn sample(i: usize, present: &[u8]) -> Sample {
        let mut aus = [Some(false); NUM_AUS];
        for au in present {
            aus[au_index(u32::from(*au)).unwrap()] = Some(true);
        }
        Sample {
            path: PathBuf::from(format!("img/{i}.jpg")),
            line: i + 2,
            aus,
            emotion: None,
        }
    }

    fn dataset(samples: Vec<Sample>) -> Dataset {
        Dataset {
            samples,
            ..Default::default()
        }
    }
    #[test]
    fn class_expressions_parse() {
        assert_eq!(
            ClassExpr::parse("AU6+AU12").unwrap(),
            ClassExpr::AllOf(vec![4, 6])
        );
        assert_eq!(
            ClassExpr::parse(" au12 + 6 ").unwrap(),
            ClassExpr::AllOf(vec![4, 6])
        );
        assert_eq!(ClassExpr::parse("None").unwrap(), ClassExpr::Neither);
        assert_eq!(ClassExpr::parse("AU6+AU12").unwrap().name(), "AU6+AU12");
        assert!(ClassExpr::parse("AU15").is_err());
        assert!(ClassExpr::parse("smile").is_err());
        assert!(ClassExpr::parse("AU6+").is_err());
        let list = parse_classes("AU6,AU12,neither").unwrap();
        assert_eq!(
            list,
            [
                ClassExpr::AllOf(vec![4]),
                ClassExpr::AllOf(vec![6]),
                ClassExpr::Neither
            ]
        );
        assert!(parse_classes("neither").is_err());
        assert!(parse_classes("AU6,au06").is_err());
        assert!(parse_classes("").is_err());
    }

    /// 300 samples: every 3rd has AU6, every 2nd AU12, every 5th has unknown AU6.
    fn mixed() -> Dataset {
        let mut samples = Vec::new();
        for i in 0..300 {
            let mut present = Vec::new();
            if i % 3 == 0 {
                present.push(6);
            }
            if i % 2 == 0 {
                present.push(12);
            }
            let mut s = sample(i, &present);
            if i % 5 == 0 {
                s.aus[4] = None;
            }
            samples.push(s);
        }
        dataset(samples)
    }

    #[test]
    fn subset_is_balanced_deterministic_and_without_duplicates() {
        let ds = mixed();
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6,AU12,neither").unwrap(),
            per_class: 20,
        };
        let a = subset(&ds, &spec, 1).unwrap();
        let b = subset(&ds, &spec, 1).unwrap();
        let c = subset(&ds, &spec, 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.train, c.train);
        for class in &a.classes {
            assert_eq!(class.picked, 20, "{a}");
        }
        let all: Vec<&Sample> = a.train.iter().chain(&a.val).chain(&a.test).collect();
        assert_eq!(all.len(), 60);
        let unique: BTreeSet<&PathBuf> = all.iter().map(|s| &s.path).collect();
        assert_eq!(unique.len(), 60, "no sample twice");
        // "neither" = AU6 and AU12 both known absent.
        let neither = all
            .iter()
            .filter(|s| s.aus[4] == Some(false) && s.aus[6] == Some(false))
            .count();
        assert!(neither >= 20);
        assert!(a.short_classes().is_empty());
    }

    #[test]
    fn short_classes_are_reported() {
        let ds = mixed();
        // AU6+AU12 known: i % 6 == 0 and i % 5 != 0: 50 - 10 = 40 samples.
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6+AU12,AU25").unwrap(),
            per_class: 45,
        };
        let s = subset(&ds, &spec, 3).unwrap();
        assert_eq!(s.classes[0].available, 40);
        assert_eq!(s.classes[0].picked, 40);
        assert_eq!(s.classes[1].picked, 0);
        let short: Vec<&str> = s.short_classes().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(short, ["AU6+AU12", "AU25"]);
        assert!(s.to_string().contains("SHORT by 5"), "{s}");
        let zero = SubsetSpec::Classes {
            classes: parse_classes("AU6").unwrap(),
            per_class: 0,
        };
        assert!(subset(&ds, &zero, 0).is_err());
    }

    #[test]
    fn splits_follow_the_fractions_per_class() {
        let ds = mixed();
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU12").unwrap(),
            per_class: 100,
        };
        let s = subset(&ds, &spec, 4).unwrap();
        // 100 picks: 70 / 15 / 15.
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (70, 15, 15));
        let f = SplitFractions {
            train: 0.5,
            val: 0.0,
            test: 0.5,
        };
        let s = subset_with_fractions(&ds, &spec, &f, 4).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (50, 0, 50));
        let bad = SplitFractions {
            train: 0.8,
            val: 0.15,
            test: 0.15,
        };
        assert!(subset_with_fractions(&ds, &spec, &bad, 4).is_err());
        // Two classes: each is split on its own (stratified).
        let spec = SubsetSpec::Classes {
            classes: parse_classes("AU6,neither").unwrap(),
            per_class: 20,
        };
        let s = subset(&ds, &spec, 5).unwrap();
        for c in &s.classes {
            assert_eq!((c.train, c.val, c.test), (14, 3, 3), "{s}");
        }
    }

    #[test]
    fn happy_subset_excludes_unknowns_and_single_aus() {
        let ds = mixed();
        let s = subset(&ds, &SubsetSpec::Happy { per_class: 1000 }, 6).unwrap();
        let all: Vec<&Sample> = s.train.iter().chain(&s.val).chain(&s.test).collect();
        for x in &all {
            let both = x.aus[4] == Some(true) && x.aus[6] == Some(true);
            let neither = x.aus[4] == Some(false) && x.aus[6] == Some(false);
            assert!(both || neither, "{x:?}");
        }
        // Happy: i % 6 == 0, i % 5 != 0 -> 40. Neither: i odd, i % 3 != 0, i % 5 != 0:
        // odd numbers below 300 not divisible by 3 or 5: 150 * (2/3) * (4/5) = 80.
        assert_eq!(s.classes[0].picked, 40);
        assert_eq!(s.classes[1].picked, 80);
        assert_eq!(s.short_classes().len(), 2);
    }
}
