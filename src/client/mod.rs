//! kafkasim's own Kafka clients — producer, consumer, group consumer and admin — speaking the real wire
//! protocol. The simulation's workloads and the command-line tools use them; they follow
//! Kafka's client semantics and config names so that what they record is what a Kafka
//! application would have seen.

pub mod admin;
pub mod cluster;
pub mod connection;
pub mod consumer;
pub mod group;
pub mod partitioner;
pub mod producer;

pub use admin::{
    Admin, AdminError, ClusterDescription, ConfigEntry, GroupDescription, ListedGroup,
    MemberDescription,
};
pub use consumer::{ConsumeError, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
pub use group::{
    CommitInvoke, CommitKind, CommitOutcome, CommitReport, GroupConfig, GroupConsumer, GroupError,
    GroupListener, MemberInfo,
};
pub use producer::{
    Delivery, ProduceError, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
