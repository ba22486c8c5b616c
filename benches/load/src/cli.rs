//! A small command-line parser: `--name value`, `--name=value` and bare `--flag`s, with typed,
//! bounded getters and an error for anything left unrecognised.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Parsed options; take them with the getters, then call [`Opts::finish`].
#[derive(Debug, Default)]
pub struct Opts {
    values: BTreeMap<String, String>,
    flags: BTreeSet<String>,
    /// Arguments that are not options, in order.
    pub positional: Vec<String>,
}

impl Opts {
    /// Parses `args` (without the program name). Names in `flags` take no value.
    pub fn parse<I: IntoIterator<Item = String>>(args: I, flags: &[&str]) -> Result<Opts, String> {
        let mut opts = Opts::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                opts.positional.push(arg);
                continue;
            };
            if let Some((k, v)) = name.split_once('=') {
                opts.values.insert(k.to_owned(), v.to_owned());
            } else if flags.contains(&name) {
                opts.flags.insert(name.to_owned());
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                opts.values.insert(name.to_owned(), v);
            }
        }
        Ok(opts)
    }

    /// Whether `--name` was given.
    pub fn flag(&mut self, name: &str) -> bool {
        self.flags.remove(name)
    }

    /// The value of `--name`, if given.
    pub fn opt<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: Display,
    {
        match self.values.remove(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e| format!("--{name} {v}: {e}")),
        }
    }

    /// The value of `--name`, or `default`; it must lie within `min..=max`.
    pub fn num<T: FromStr + PartialOrd + Display + Copy>(
        &mut self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, String>
    where
        T::Err: Display,
    {
        let v = self.opt(name)?.unwrap_or(default);
        if v < min || v > max {
            return Err(format!("--{name} {v}: must be between {min} and {max}"));
        }
        Ok(v)
    }

    /// A duration in seconds (fractions allowed), or `default`; at most `max`.
    pub fn secs(&mut self, name: &str, default: f64, max: f64) -> Result<Duration, String> {
        let s = self.num(name, default, 0.0, max)?;
        Ok(Duration::from_secs_f64(s))
    }

    /// The value of `--name`, or `default`.
    pub fn string(&mut self, name: &str, default: &str) -> String {
        self.values
            .remove(name)
            .unwrap_or_else(|| default.to_owned())
    }

    /// Fails on every option no getter took.
    pub fn finish(self) -> Result<(), String> {
        let mut unknown: Vec<String> = self.values.into_keys().collect();
        unknown.extend(self.flags);
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown option(s): --{}", unknown.join(", --")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Opts {
        Opts::parse(s.split_whitespace().map(String::from), &["quick"]).unwrap()
    }

    #[test]
    fn values_flags_and_positionals() {
        let mut o = parse("echo --clients 5 --duration=1.5 --quick --label x");
        assert_eq!(o.positional, ["echo"]);
        assert_eq!(o.num("clients", 50u32, 1, 10).unwrap(), 5);
        assert_eq!(o.secs("duration", 8.0, 60.0).unwrap().as_millis(), 1500);
        assert!(o.flag("quick"));
        assert_eq!(o.string("label", "y"), "x");
        assert_eq!(o.string("other", "y"), "y");
        o.finish().unwrap();
    }

    #[test]
    fn bounds_and_leftovers_are_errors() {
        let mut o = parse("--clients 500 --bogus 1");
        assert!(o.num("clients", 50u32, 1, 100).is_err());
        assert!(o.finish().unwrap_err().contains("--bogus"));
        assert!(Opts::parse(["--clients".to_owned()], &[]).is_err());
    }
}
