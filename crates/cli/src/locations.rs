//! Where clinicscan finds its files when the command line does not say: the site file and
//! the data directory (rules, controls catalogue, known-exploited and end-of-life data).
//! One function each, so `doctor`, the commands and the tests share the one search order.
//!
//! - Site file: `--site FILE`, else `CLINICSCAN_SITE`, else
//!   `$XDG_CONFIG_HOME/clinicscan/site.toml` (`~/.config` when unset), else
//!   `/etc/clinicscan/site.toml`. The last two only when the file exists.
//! - Data: `--data DIR`, else `CLINICSCAN_DATA`, else the packaged `/usr/share/clinicscan`
//!   when it holds data, else the copy compiled into the binary.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The system-wide configuration directory of the package.
pub const SYSTEM_CONFIG_DIR: &str = "/etc/clinicscan";
/// Where the package installs its rules and data.
pub const PACKAGED_DATA_DIR: &str = "/usr/share/clinicscan";

/// The places searched, with the environment they read. `Roots::system()` is the real
/// machine; tests give temporary directories instead of `/etc` and `/usr/share`.
pub struct Roots<'a> {
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
    /// `/etc/clinicscan`.
    pub system_config: PathBuf,
    /// `/usr/share/clinicscan`.
    pub packaged_data: PathBuf,
}

fn real_env(key: &str) -> Option<OsString> {
    std::env::var_os(key)
}

impl Roots<'static> {
    /// This machine: the process's environment, `/etc/clinicscan`, `/usr/share/clinicscan`.
    pub fn system() -> Roots<'static> {
        Roots {
            env: &real_env,
            system_config: PathBuf::from(SYSTEM_CONFIG_DIR),
            packaged_data: PathBuf::from(PACKAGED_DATA_DIR),
        }
    }
}

/// How a file or directory was found: what `doctor` prints next to the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A command-line option.
    Option,
    /// An environment variable.
    Env(&'static str),
    /// The user's configuration directory (XDG).
    UserConfig,
    /// The system configuration directory.
    SystemConfig,
    /// The packaged data directory.
    Packaged,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Option => f.write_str("command line"),
            Origin::Env(name) => f.write_str(name),
            Origin::UserConfig => f.write_str("XDG_CONFIG_HOME"),
            Origin::SystemConfig => f.write_str(SYSTEM_CONFIG_DIR),
            Origin::Packaged => f.write_str("package"),
        }
    }
}

/// A path and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file or directory.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

impl<'a> Roots<'a> {
    fn var(&self, key: &str) -> Option<PathBuf> {
        (self.env)(key).filter(|v| !v.is_empty()).map(PathBuf::from)
    }

    /// What the user named: the option, else the environment variable.
    fn explicit(&self, option: Option<&Path>, variable: &'static str) -> Option<Found> {
        match option {
            Some(path) => Some(Found {
                path: path.to_path_buf(),
                origin: Origin::Option,
            }),
            None => self.var(variable).map(|path| Found {
                path,
                origin: Origin::Env(variable),
            }),
        }
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config` (a relative XDG_CONFIG_HOME is invalid and
    /// ignored, as the XDG base directory specification says).
    pub fn user_config_dir(&self) -> Option<PathBuf> {
        self.var("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| self.var("HOME").map(|h| h.join(".config")))
    }

    /// The site file, or `None` when no site file is configured anywhere. An explicit
    /// path (option or variable) is returned whether it exists or not: reading it then
    /// says what is wrong, instead of silently using another file.
    pub fn site_file(&self, option: Option<&Path>) -> Option<Found> {
        if let Some(found) = self.explicit(option, "CLINICSCAN_SITE") {
            return Some(found);
        }
        let user_config = self.user_config_dir();
        let candidates = [
            user_config.map(|d| (d.join("clinicscan/site.toml"), Origin::UserConfig)),
            Some((self.system_config.join("site.toml"), Origin::SystemConfig)),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|(path, _)| path.is_file())
            .map(|(path, origin)| Found { path, origin })
    }

    /// The data directory, or `None` for the copy compiled into the binary. An explicit
    /// directory is returned whether it exists or not (loading it says what is wrong); the
    /// packaged one only when it holds data.
    pub fn data_dir(&self, option: Option<&Path>) -> Option<Found> {
        if let Some(found) = self.explicit(option, "CLINICSCAN_DATA") {
            return Some(found);
        }
        self.packaged_data
            .join("data/kev.toml")
            .is_file()
            .then(|| Found {
                path: self.packaged_data.clone(),
                origin: Origin::Packaged,
            })
    }
}

/// The site file for this process (see [`Roots::site_file`]).
pub fn site_file(option: Option<&Path>) -> Option<Found> {
    Roots::system().site_file(option)
}

/// The data directory for this process (see [`Roots::data_dir`]).
pub fn data_dir(option: Option<&Path>) -> Option<Found> {
    Roots::system().data_dir(option)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs;

    use super::*;

    /// A fake machine: environment variables and the two system directories under a
    /// temporary root.
    struct Machine {
        root: tempfile::TempDir,
        vars: HashMap<&'static str, OsString>,
    }

    impl Machine {
        fn new() -> Machine {
            Machine {
                root: tempfile::tempdir().unwrap(),
                vars: HashMap::new(),
            }
        }
        fn path(&self, rel: &str) -> PathBuf {
            self.root.path().join(rel)
        }
        fn set(&mut self, key: &'static str, rel: &str) {
            let value = self.path(rel).into_os_string();
            self.vars.insert(key, value);
        }
        fn file(&self, rel: &str) -> PathBuf {
            let path = self.path(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "[site]\n").unwrap();
            path
        }
        fn site(&self, option: Option<&Path>) -> Option<Found> {
            let env = |k: &str| self.vars.get(k).cloned();
            let roots = Roots {
                env: &env,
                system_config: self.path("etc/clinicscan"),
                packaged_data: self.path("usr/share/clinicscan"),
            };
            roots.site_file(option)
        }
        fn data(&self, option: Option<&Path>) -> Option<Found> {
            let env = |k: &str| self.vars.get(k).cloned();
            let roots = Roots {
                env: &env,
                system_config: self.path("etc/clinicscan"),
                packaged_data: self.path("usr/share/clinicscan"),
            };
            roots.data_dir(option)
        }
    }

    fn found(path: PathBuf, origin: Origin) -> Option<Found> {
        Some(Found { path, origin })
    }

    #[test]
    fn without_site_the_site_file_is_found_in_each_documented_place_in_order() {
        let mut m = Machine::new();
        m.set("HOME", "home/a");
        assert_eq!(m.site(None), None, "nothing anywhere: no site file");

        // Last: the system's.
        let system = m.file("etc/clinicscan/site.toml");
        assert_eq!(m.site(None), found(system.clone(), Origin::SystemConfig));

        // Before it: ~/.config when XDG_CONFIG_HOME is unset...
        let home = m.file("home/a/.config/clinicscan/site.toml");
        assert_eq!(m.site(None), found(home.clone(), Origin::UserConfig));

        // ...and XDG_CONFIG_HOME when set (then ~/.config is not looked at).
        m.set("XDG_CONFIG_HOME", "xdg");
        assert_eq!(m.site(None), found(system.clone(), Origin::SystemConfig));
        let xdg = m.file("xdg/clinicscan/site.toml");
        assert_eq!(m.site(None), found(xdg.clone(), Origin::UserConfig));

        // Before those: CLINICSCAN_SITE, even when that file does not exist (reading it
        // reports the mistake; another file is never used instead).
        m.set("CLINICSCAN_SITE", "elsewhere/site.toml");
        assert_eq!(
            m.site(None),
            found(
                m.path("elsewhere/site.toml"),
                Origin::Env("CLINICSCAN_SITE")
            )
        );

        // First: --site.
        let given = m.path("given.toml");
        assert_eq!(m.site(Some(&given)), found(given.clone(), Origin::Option));
    }

    #[test]
    fn a_relative_xdg_config_home_is_ignored_and_empty_variables_are_unset() {
        let mut m = Machine::new();
        m.set("HOME", "home/a");
        m.vars.insert("XDG_CONFIG_HOME", "relative".into());
        m.vars.insert("CLINICSCAN_SITE", "".into());
        let home = m.file("home/a/.config/clinicscan/site.toml");
        assert_eq!(m.site(None), found(home, Origin::UserConfig));
        // A directory where the file should be is not a site file.
        let mut m = Machine::new();
        fs::create_dir_all(m.path("etc/clinicscan/site.toml")).unwrap();
        m.vars.remove("HOME");
        assert_eq!(m.site(None), None);
    }

    #[test]
    fn data_comes_from_the_option_the_variable_the_package_then_the_binary() {
        let mut m = Machine::new();
        assert_eq!(
            m.data(None),
            None,
            "nothing installed: the compiled-in copy"
        );
        // A packaged directory counts only when it holds data.
        fs::create_dir_all(m.path("usr/share/clinicscan")).unwrap();
        assert_eq!(m.data(None), None);
        fs::create_dir_all(m.path("usr/share/clinicscan/data")).unwrap();
        fs::write(m.path("usr/share/clinicscan/data/kev.toml"), "").unwrap();
        assert_eq!(
            m.data(None),
            found(m.path("usr/share/clinicscan"), Origin::Packaged)
        );
        m.set("CLINICSCAN_DATA", "mine");
        assert_eq!(
            m.data(None),
            found(m.path("mine"), Origin::Env("CLINICSCAN_DATA"))
        );
        let given = m.path("given");
        assert_eq!(m.data(Some(&given)), found(given.clone(), Origin::Option));
    }
}
