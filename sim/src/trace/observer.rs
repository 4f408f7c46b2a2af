//! What the trace hands every observation to. An observer watches the brokers as they run —
//! their replica observations and the bytes on their wire — and may ask for records to be
//! hashed into the trace; it must not change what the run does other than by what it is for
//! (the `when` hook pauses nodes and fires steps).

use kafkasim::env::Observation;

/// A trace record an observer asks for: its kind and bytes, hashed after the observation.
pub type Record = (&'static str, Vec<u8>);

/// One consumer of the run's observations, registered with `RunTrace::add_observer`.
pub trait Observer: Send {
    /// A broker's replica observation at `time_ms` (simulated ms since the run began).
    fn observe(
        &mut self,
        _broker: i32,
        _time_ms: u64,
        _observation: &Observation<'_>,
        _records: &mut Vec<Record>,
    ) {
    }

    /// A request `node` received and the response it sent, as bytes on the wire.
    fn exchange(&mut self, _node: i32, _request: &[u8], _response: &[u8]) {}
}
