//! [`Failure`]: why a command failed, and the exit code a script can rely on.

use std::fmt;
use std::process::ExitCode;

use keygate::StoreError;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: no such key, its state forbids the change, or its name is taken.
    Refused = 1,
    /// 2: usage error or invalid input (clap uses 2 for its own usage errors too).
    Invalid = 2,
    /// 3: the key store could not be opened or reached.
    Unavailable = 3,
}

/// A failed command: its exit code and what to tell the operator.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// Already told in the command's own output (an import's report): only the exit code is
    /// left to give.
    pub reported: bool,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            reported: false,
        }
    }

    /// A failure the command's output has told already, line by line.
    pub fn reported(exit: Exit) -> Self {
        Self {
            reported: true,
            ..Self::new(exit, "")
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }

    /// The machine-readable kind, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self.exit {
            Exit::Refused => "refused",
            Exit::Invalid => "invalid",
            Exit::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::from_ref(&e)
    }
}

impl Failure {
    /// The failure a store error makes, by its kind.
    pub fn from_ref(e: &StoreError) -> Self {
        let exit = match e {
            StoreError::NotFound(_) | StoreError::Conflict(_) | StoreError::NameTaken { .. } => {
                Exit::Refused
            }
            StoreError::Invalid(_) => Exit::Invalid,
            _ => Exit::Unavailable,
        };
        Self::new(exit, e.to_string())
    }
}
