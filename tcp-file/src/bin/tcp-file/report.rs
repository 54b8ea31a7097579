//! An error spelled out on one line: its message, then each of its causes, each once.

use std::error::Error;

/// `error`'s message, then the message of each [`source`](Error::source) in turn, joined
/// with `": "`. A source whose message the level above already contains is left out (some
/// errors still print their cause inside their own message); the sources below it are not.
pub(crate) fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut above = line.clone();
    let mut next = error.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        if !above.contains(&message) {
            line.push_str(": ");
            line.push_str(&message);
        }
        above = message;
        next = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    /// An error of one message, with the next level as its source.
    #[derive(Debug)]
    struct Level(&'static str, Option<Box<Level>>);

    impl fmt::Display for Level {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Level {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn chain(messages: &[&'static str]) -> Level {
        let mut levels = messages.iter().rev();
        let last = Level(levels.next().expect("a message"), None);
        levels.fold(last, |below, message| Level(message, Some(Box::new(below))))
    }

    #[test]
    fn each_level_is_said_once_in_order() {
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
        let error = chain(&["cannot connect", "connecting to h:1 failed", "refused"]);
        assert_eq!(
            error_chain(&error),
            "cannot connect: connecting to h:1 failed: refused"
        );
    }

    #[test]
    fn a_cause_the_level_above_already_says_is_left_out() {
        let error = chain(&["cannot listen: in use", "in use", "os error 98"]);
        assert_eq!(error_chain(&error), "cannot listen: in use: os error 98");
        let error = chain(&["a: b: c", "b: c", "c"]);
        assert_eq!(error_chain(&error), "a: b: c");
    }
}
