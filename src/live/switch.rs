//! What goes on air, decided once per 20 ms frame: a studio PC's stream (Icecast source),
//! the line-in, or the fallback playlist. Pure: it sees what each input offered for this
//! frame and counts frames, so its rules are tested without a clock.
//!
//! - A source that connects goes on air at once: someone started it on purpose. It keeps
//!   priority over the line-in unless `source_first` is off.
//! - A live input (source or line-in) stays on air through silence shorter than
//!   `fallback_after`; then the fallback plays, if it has anything.
//! - From the fallback, the line-in returns once it has had signal for `hold` without a
//!   break, so a cough or a click on a muted desk does not cut the playlist.

use serde::Serialize;

/// What an input offered for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Nothing (no device, no source connected, or its audio did not arrive in time).
    Missing,
    /// A frame below the silence level.
    Silent,
    /// A frame with signal.
    Signal,
}

/// Who is on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAir {
    LineIn,
    Source,
    Fallback,
    /// Nothing to play: silence goes out so listeners stay connected.
    Silence,
}

impl OnAir {
    /// Live programme (recorded as a show), as opposed to automation or dead air.
    pub fn is_live(self) -> bool {
        matches!(self, OnAir::LineIn | OnAir::Source)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Frames of silence or no input before the fallback plays.
    pub fallback_after: u32,
    /// Frames of signal on the line-in before it takes over from the fallback again.
    pub hold: u32,
    pub source_first: bool,
}

/// Run lengths of one input: frames since it last had signal, and frames of unbroken signal.
#[derive(Debug, Clone, Copy)]
struct Runs {
    quiet: u32,
    loud: u32,
    present: bool,
}

impl Runs {
    fn new(fallback_after: u32) -> Self {
        // At start an input has not been heard yet: as if silent for long.
        Self {
            quiet: fallback_after,
            loud: 0,
            present: false,
        }
    }

    fn see(&mut self, o: Offer) {
        self.present = o != Offer::Missing;
        if o == Offer::Signal {
            self.quiet = 0;
            self.loud = self.loud.saturating_add(1);
        } else {
            self.quiet = self.quiet.saturating_add(1);
            self.loud = 0;
        }
    }
}

pub struct Switch {
    rules: Rules,
    on: OnAir,
    line: Runs,
    source: Runs,
}

impl Switch {
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            on: OnAir::Silence,
            line: Runs::new(rules.fallback_after),
            source: Runs::new(rules.fallback_after),
        }
    }

    pub fn on_air(&self) -> OnAir {
        self.on
    }

    /// Takes this frame's offers; returns who plays it. `fallback_ready`: the playlist has
    /// audio.
    pub fn next(&mut self, line: Offer, source: Offer, fallback_ready: bool) -> OnAir {
        let source_was = self.source.present;
        self.line.see(line);
        self.source.see(source);
        let r = self.rules;
        let source_alive = self.source.present && self.source.quiet < r.fallback_after;
        let line_alive = self.line.present && self.line.quiet < r.fallback_after;
        let source_new = self.source.present && !source_was;
        // The live input preferred now, if any is worth hearing.
        let live = match (source_alive, line_alive) {
            (true, true) if r.source_first => Some(OnAir::Source),
            (_, true) => Some(OnAir::LineIn),
            (true, false) => Some(OnAir::Source),
            (false, false) => None,
        };
        self.on = match (self.on, live) {
            // A studio PC connecting always goes on air.
            (_, Some(OnAir::Source)) if source_new => OnAir::Source,
            // On a live input: follow the preference between the two.
            (OnAir::LineIn | OnAir::Source, Some(l)) => l,
            // Back from the fallback: a source at once, the line-in after the hold.
            (OnAir::Fallback, Some(OnAir::Source)) => OnAir::Source,
            (OnAir::Fallback, Some(_)) if self.line.loud >= r.hold => OnAir::LineIn,
            (OnAir::Fallback, Some(_)) => OnAir::Fallback,
            (OnAir::Silence, Some(l)) => l,
            (_, None) if fallback_ready => OnAir::Fallback,
            // Nothing else: keep a live input's (silent) audio, or silence.
            (_, None) if self.line.present => OnAir::LineIn,
            (_, None) if self.source.present => OnAir::Source,
            (_, None) => OnAir::Silence,
        };
        if self.on == OnAir::Fallback && !fallback_ready {
            // The playlist ran dry (a pulled USB stick): whatever is left.
            self.on = if self.source.present {
                OnAir::Source
            } else if self.line.present {
                OnAir::LineIn
            } else {
                OnAir::Silence
            };
        }
        self.on
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Offer::*;

    const RULES: Rules = Rules {
        fallback_after: 500,
        hold: 100,
        source_first: true,
    };

    fn run(s: &mut Switch, n: u32, line: Offer, source: Offer) -> OnAir {
        (0..n).fold(OnAir::Silence, |_, _| s.next(line, source, true))
    }

    #[test]
    fn silence_goes_to_the_fallback_and_signal_comes_back_after_the_hold() {
        let mut s = Switch::new(RULES);
        assert_eq!(run(&mut s, 10, Signal, Missing), OnAir::LineIn);
        assert_eq!(run(&mut s, 499, Silent, Missing), OnAir::LineIn);
        assert_eq!(run(&mut s, 1, Silent, Missing), OnAir::Fallback);
        // A click is not a return.
        assert_eq!(run(&mut s, 99, Signal, Missing), OnAir::Fallback);
        assert_eq!(run(&mut s, 1, Silent, Missing), OnAir::Fallback);
        assert_eq!(run(&mut s, 99, Signal, Missing), OnAir::Fallback);
        assert_eq!(run(&mut s, 1, Signal, Missing), OnAir::LineIn);
    }

    #[test]
    fn a_silent_or_missing_input_at_start_plays_the_fallback_at_once() {
        let mut s = Switch::new(RULES);
        assert_eq!(s.next(Silent, Missing, true), OnAir::Fallback);
        let mut s = Switch::new(RULES);
        assert_eq!(s.next(Missing, Missing, true), OnAir::Fallback);
        let mut s = Switch::new(RULES);
        assert_eq!(s.next(Missing, Missing, false), OnAir::Silence);
        assert_eq!(s.next(Silent, Missing, false), OnAir::LineIn);
    }

    #[test]
    fn a_source_takes_over_at_once_and_the_fallback_covers_its_drop() {
        let mut s = Switch::new(RULES);
        assert_eq!(run(&mut s, 10, Silent, Missing), OnAir::Fallback);
        assert_eq!(s.next(Silent, Signal, true), OnAir::Source);
        assert_eq!(run(&mut s, 200, Signal, Signal), OnAir::Source);
        // The source stops: the line-in has signal, so it plays.
        assert_eq!(s.next(Signal, Missing, true), OnAir::LineIn);
        // Line-in silent for long, source connects and drops: straight to the fallback.
        let mut s = Switch::new(RULES);
        run(&mut s, 600, Silent, Missing);
        assert_eq!(run(&mut s, 50, Silent, Signal), OnAir::Source);
        assert_eq!(s.next(Silent, Missing, true), OnAir::Fallback);
    }

    #[test]
    fn line_in_first_when_asked() {
        let mut s = Switch::new(Rules {
            source_first: false,
            ..RULES
        });
        run(&mut s, 10, Signal, Missing);
        assert_eq!(run(&mut s, 10, Signal, Signal), OnAir::LineIn);
        // The line-in goes quiet for long: the source covers it before any fallback.
        assert_eq!(run(&mut s, 500, Silent, Signal), OnAir::Source);
    }

    #[test]
    fn an_empty_playlist_leaves_the_live_input_on() {
        let mut s = Switch::new(RULES);
        assert_eq!(
            (0..1000).fold(OnAir::Silence, |_, _| s.next(Silent, Missing, false)),
            OnAir::LineIn
        );
    }
}
