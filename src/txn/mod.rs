//! Idempotent producers (KIP-98): the producer state each partition keeps, and how brokers
//! hand out producer ids. Transactions (the coordinator, markers, the LSO) come later.

pub mod producer_ids;
pub mod producer_state;

pub use producer_ids::ProducerIdManager;
pub use producer_state::{ClientBatch, ProducerError, ProducerState};
