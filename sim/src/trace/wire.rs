//! The wire recorder: what brokers acknowledged and served, decoded from the bytes they wrote,
//! for the wire-level checkers.

use std::sync::{Arc, Mutex};

use super::observer::Observer;
use crate::history::wire::WireEvent;

/// The wire history so far, shared by the recorder and the end of the run.
pub type SharedWire = Arc<Mutex<Vec<WireEvent>>>;

/// Decodes every exchange into the wire history.
pub struct WireRecorder(pub SharedWire);

impl Observer for WireRecorder {
    fn exchange(&mut self, node: i32, request: &[u8], response: &[u8]) {
        let events = crate::history::wire::decode(node, request, response);
        if !events.is_empty() {
            self.0.lock().unwrap().extend(events);
        }
    }
}
