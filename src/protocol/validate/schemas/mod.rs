//! The request schemas, one file per API, each written from Kafka's protocol docs and the
//! crate's generated decoders (`src/messages/*_request.rs`) for exactly the versions kafkasim
//! supports. A new API is one new file here plus one entry in [`SCHEMAS`] (or, for an API only
//! the controller serves, [`CONTROLLER_SCHEMAS`]).

mod alter_configs;
mod alter_partition;
mod api_versions;
mod broker_heartbeat;
mod broker_registration;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod elect_leaders;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;

use super::schema::Schema;
use alter_configs::ALTER_CONFIGS;
use alter_partition::ALTER_PARTITION;
use api_versions::API_VERSIONS;
use broker_heartbeat::BROKER_HEARTBEAT;
use broker_registration::BROKER_REGISTRATION;
use create_partitions::CREATE_PARTITIONS;
use create_topics::CREATE_TOPICS;
use delete_groups::DELETE_GROUPS;
use delete_records::DELETE_RECORDS;
use delete_topics::DELETE_TOPICS;
use describe_cluster::DESCRIBE_CLUSTER;
use describe_configs::DESCRIBE_CONFIGS;
use describe_groups::DESCRIBE_GROUPS;
use elect_leaders::ELECT_LEADERS;
use fetch::FETCH;
use find_coordinator::FIND_COORDINATOR;
use heartbeat::HEARTBEAT;
use incremental_alter_configs::INCREMENTAL_ALTER_CONFIGS;
use init_producer_id::INIT_PRODUCER_ID;
use join_group::JOIN_GROUP;
use leave_group::LEAVE_GROUP;
use list_groups::LIST_GROUPS;
use list_offsets::LIST_OFFSETS;
use metadata::METADATA;
use offset_commit::OFFSET_COMMIT;
use offset_delete::OFFSET_DELETE;
use offset_fetch::OFFSET_FETCH;
use offset_for_leader_epoch::OFFSET_FOR_LEADER_EPOCH;
use produce::PRODUCE;
use sync_group::SYNC_GROUP;

/// One schema per API in `SUPPORTED`.
pub(super) const SCHEMAS: &[Schema] = &[
    PRODUCE,
    FETCH,
    LIST_OFFSETS,
    METADATA,
    FIND_COORDINATOR,
    API_VERSIONS,
    CREATE_TOPICS,
    DELETE_TOPICS,
    OFFSET_FOR_LEADER_EPOCH,
    DESCRIBE_CLUSTER,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    INCREMENTAL_ALTER_CONFIGS,
    DELETE_RECORDS,
    CREATE_PARTITIONS,
    INIT_PRODUCER_ID,
    JOIN_GROUP,
    SYNC_GROUP,
    HEARTBEAT,
    LEAVE_GROUP,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    LIST_GROUPS,
    DESCRIBE_GROUPS,
    DELETE_GROUPS,
    OFFSET_DELETE,
];

/// The controller's own APIs (its Fetch of the metadata log uses `FETCH`).
pub(super) const CONTROLLER_SCHEMAS: &[Schema] = &[
    BROKER_REGISTRATION,
    BROKER_HEARTBEAT,
    ALTER_PARTITION,
    ELECT_LEADERS,
];
