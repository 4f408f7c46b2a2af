//! Kafka error codes: one typed [`ErrorCode`], and every code kafkasim's brokers and controller
//! can return defined here and nowhere else.
//!
//! A code knows its Kafka name (`Errors.java`'s constant), whether Kafka marks it retriable
//! (`RetriableException`), and what a client may conclude from it when it answers a write
//! ([`WriteOutcome`]): a definite failure (Jepsen's `fail`: the broker refused before
//! appending) or only an indeterminate one (`info`: it may have been appended). Codes that
//! arrive from a peer are taken as they are ([`ErrorCode::from_wire`]); a code not in kafkasim's
//! table is named from kafka-protocol's own list, so a history never reads "UNKNOWN" for a
//! code Kafka defines.

use std::borrow::Cow;
use std::fmt;

use kafka_protocol::ResponseError;

/// A Kafka error code as the wire carries it (an `i16`), typed so that it cannot be mixed up
/// with the protocol's other `i16`s (API keys, versions, acks).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCode(i16);

/// What a client may conclude about a write (Produce) answered with a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The write took effect (NONE).
    Ok,
    /// The broker refused before appending: the write definitely did not take effect.
    Fail,
    /// The write may or may not have taken effect (e.g. appended, then not replicated in time).
    Info,
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $retriable:literal, $outcome:ident; )*) => {
        impl ErrorCode {
            $( $(#[$doc])* pub const $name: ErrorCode = ErrorCode($code); )*
        }

        /// Every code defined here: all that kafkasim's brokers and controller can return.
        pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name),*];

        /// Name, retriability and write outcome of a code defined here.
        const fn known(code: i16) -> Option<(&'static str, bool, WriteOutcome)> {
            match code {
                $( $code => Some((stringify!($name), $retriable, WriteOutcome::$outcome)), )*
                _ => None,
            }
        }
    };
}

error_codes! {
    NONE = 0, false, Ok;
    UNKNOWN_SERVER_ERROR = -1, false, Info;
    OFFSET_OUT_OF_RANGE = 1, false, Info;
    CORRUPT_MESSAGE = 2, true, Fail;
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, Fail;
    INVALID_FETCH_SIZE = 4, false, Info;
    LEADER_NOT_AVAILABLE = 5, true, Info;
    NOT_LEADER_OR_FOLLOWER = 6, true, Info;
    REQUEST_TIMED_OUT = 7, true, Info;
    MESSAGE_TOO_LARGE = 10, false, Fail;
    OFFSET_METADATA_TOO_LARGE = 12, false, Fail;
    /// The group coordinator is still loading its `__consumer_offsets` partition.
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, Fail;
    COORDINATOR_NOT_AVAILABLE = 15, true, Info;
    /// This broker does not coordinate the group (its `__consumer_offsets` partition lives elsewhere).
    NOT_COORDINATOR = 16, true, Fail;
    INVALID_TOPIC_EXCEPTION = 17, false, Fail;
    RECORD_LIST_TOO_LARGE = 18, false, Fail;
    /// Refused before the append: fewer in-sync replicas than `min.insync.replicas`.
    NOT_ENOUGH_REPLICAS = 19, true, Fail;
    /// Appended on the leader, but the ISR shrank below `min.insync.replicas` before the high
    /// watermark passed it: the write may still become committed.
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, true, Info;
    INVALID_REQUIRED_ACKS = 21, false, Fail;
    /// A group request carried a generation other than the group's current one.
    ILLEGAL_GENERATION = 22, false, Fail;
    /// A JoinGroup's protocol type or protocols share nothing with the group's members.
    INCONSISTENT_GROUP_PROTOCOL = 23, false, Fail;
    INVALID_GROUP_ID = 24, false, Fail;
    /// The member id is not (or no longer) a member of the group.
    UNKNOWN_MEMBER_ID = 25, false, Fail;
    /// session.timeout.ms outside the broker's group.min/max.session.timeout.ms.
    INVALID_SESSION_TIMEOUT = 26, false, Fail;
    /// The group is rebalancing: the member must rejoin.
    REBALANCE_IN_PROGRESS = 27, false, Fail;
    UNSUPPORTED_VERSION = 35, false, Fail;
    /// DeleteGroups or OffsetDelete on a group that still has members.
    NON_EMPTY_GROUP = 68, false, Fail;
    GROUP_ID_NOT_FOUND = 69, false, Fail;
    TOPIC_ALREADY_EXISTS = 36, false, Info;
    INVALID_PARTITIONS = 37, false, Info;
    INVALID_REPLICATION_FACTOR = 38, false, Info;
    INVALID_REPLICA_ASSIGNMENT = 39, false, Info;
    INVALID_CONFIG = 40, false, Info;
    INVALID_REQUEST = 42, false, Info;
    POLICY_VIOLATION = 44, false, Info;
    /// An idempotent producer's batch does not follow its last one: refused before the append.
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, false, Fail;
    /// An idempotent producer's batch carries an older epoch than the partition knows.
    INVALID_PRODUCER_EPOCH = 47, false, Fail;
    KAFKA_STORAGE_ERROR = 56, true, Info;
    /// An incremental Fetch named a fetch session this broker does not have (KIP-227).
    FETCH_SESSION_ID_NOT_FOUND = 70, true, Info;
    /// A Fetch's session epoch is not the one the session expects next (KIP-227).
    INVALID_FETCH_SESSION_EPOCH = 71, true, Info;
    /// The request's leader epoch is older than the receiver's.
    FENCED_LEADER_EPOCH = 74, true, Info;
    /// The request's leader epoch is newer than the receiver's.
    UNKNOWN_LEADER_EPOCH = 75, true, Info;
    /// The request comes from an older broker incarnation.
    STALE_BROKER_EPOCH = 77, false, Info;
    /// A new leader's high watermark has not reached its epoch's start yet (KIP-207).
    OFFSET_NOT_AVAILABLE = 78, true, Info;
    /// JoinGroup v4+ from a new dynamic member: rejoin with the member id given (KIP-394).
    MEMBER_ID_REQUIRED = 79, false, Fail;
    PREFERRED_LEADER_NOT_AVAILABLE = 80, true, Info;
    /// The group already has group.max.size members.
    GROUP_MAX_SIZE_REACHED = 81, false, Fail;
    /// Another member id holds this group.instance.id now (KIP-345).
    FENCED_INSTANCE_ID = 82, false, Fail;
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, true, Info;
    ELECTION_NOT_NEEDED = 84, true, Info;
    /// OffsetDelete of a topic a member of the group still subscribes to.
    GROUP_SUBSCRIBED_TO_TOPIC = 86, false, Fail;
    INVALID_RECORD = 87, false, Fail;
    /// The request's partition epoch is not the current one.
    INVALID_UPDATE_VERSION = 95, false, Info;
    /// A request named a topic by an id this broker does not know (KIP-516).
    UNKNOWN_TOPIC_ID = 100, true, Info;
    DUPLICATE_BROKER_REGISTRATION = 101, false, Info;
    BROKER_ID_NOT_REGISTERED = 102, false, Info;
    /// A partition's topic id differs from the one the request (or its session) gave.
    INCONSISTENT_TOPIC_ID = 103, true, Info;
    /// A fetch session's topic ids are inconsistent with the request's (KIP-516).
    FETCH_SESSION_TOPIC_ID_ERROR = 106, true, Info;
    /// A proposed ISR member is fenced or shutting down (KIP-841).
    INELIGIBLE_REPLICA = 107, false, Info;
    /// DescribeCluster asked a broker for another endpoint type (controllers).
    MISMATCHED_ENDPOINT_TYPE = 114, false, Info;
    /// DescribeCluster named an endpoint type Kafka does not define.
    UNSUPPORTED_ENDPOINT_TYPE = 115, false, Info;
}

impl ErrorCode {
    /// A code as a peer sent it. Any `i16` is accepted: a peer may send codes kafkasim never
    /// returns itself.
    pub const fn from_wire(code: i16) -> ErrorCode {
        ErrorCode(code)
    }

    /// The code as the wire carries it.
    pub const fn code(self) -> i16 {
        self.0
    }

    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Kafka's name (`NOT_LEADER_OR_FOLLOWER`); for a code Kafka does not define,
    /// `UNKNOWN_CODE_<n>`.
    pub fn name(self) -> Cow<'static, str> {
        if let Some((name, _, _)) = known(self.0) {
            return Cow::Borrowed(name);
        }
        match ResponseError::try_from_code(self.0) {
            Some(ResponseError::Unknown(_)) | None => {
                Cow::Owned(format!("UNKNOWN_CODE_{}", self.0))
            }
            Some(error) => Cow::Owned(screaming_snake(&format!("{error:?}"))),
        }
    }

    /// Whether Kafka marks the code retriable: a client may send the same request again.
    pub fn is_retriable(self) -> bool {
        match known(self.0) {
            Some((_, retriable, _)) => retriable,
            None => ResponseError::try_from_code(self.0).is_some_and(|e| e.is_retriable()),
        }
    }

    /// What a client may conclude about a write answered with this code. A code outside the
    /// table is `Info`: nothing proves the write absent.
    pub fn write_outcome(self) -> WriteOutcome {
        known(self.0).map_or(WriteOutcome::Info, |(_, _, outcome)| outcome)
    }
}

/// `NotLeaderOrFollower` → `NOT_LEADER_OR_FOLLOWER`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> i16 {
        code.0
    }
}

impl PartialEq<i16> for ErrorCode {
    fn eq(&self, other: &i16) -> bool {
        self.0 == *other
    }
}

impl PartialEq<ErrorCode> for i16 {
    fn eq(&self, other: &ErrorCode) -> bool {
        *self == other.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code kafkasim can return carries Kafka's own name and retriability, as
    /// kafka-protocol's copy of `Errors.java` has them.
    #[test]
    fn every_code_has_its_kafka_name_and_retriability() {
        let mut wrong: Vec<String> = Vec::new();
        for &code in ALL {
            let (name, retriable, _) = known(code.code()).expect("in the table");
            if code.is_none() {
                assert_eq!(name, "NONE");
                continue;
            }
            let kafka = ResponseError::try_from_code(code.code()).expect("not NONE");
            assert!(
                !matches!(kafka, ResponseError::Unknown(_)),
                "{name} ({}) is not a Kafka error code",
                code.code()
            );
            let kafka_name = screaming_snake(&format!("{kafka:?}"));
            if name != kafka_name || retriable != kafka.is_retriable() {
                wrong.push(format!(
                    "{} is {name} (retriable {retriable}) here, {kafka_name} (retriable {}) in Kafka",
                    code.code(),
                    kafka.is_retriable()
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn codes_are_defined_once() {
        let mut numbers: Vec<i16> = ALL.iter().map(|c| c.code()).collect();
        numbers.sort();
        let before = numbers.len();
        numbers.dedup();
        assert_eq!(before, numbers.len());
    }

    #[test]
    fn a_code_outside_the_table_is_named_from_kafkas_list() {
        assert_eq!(
            ErrorCode::from_wire(30).name(),
            "GROUP_AUTHORIZATION_FAILED"
        );
        assert_eq!(
            ErrorCode::from_wire(29).name(),
            "TOPIC_AUTHORIZATION_FAILED"
        );
        assert!(ErrorCode::from_wire(13).is_retriable(), "NETWORK_EXCEPTION");
        assert_eq!(ErrorCode::from_wire(30).write_outcome(), WriteOutcome::Info);
        assert_eq!(ErrorCode::from_wire(9999).name(), "UNKNOWN_CODE_9999");
        assert!(!ErrorCode::from_wire(9999).is_retriable());
    }

    #[test]
    fn only_refusals_before_the_append_are_definite_failures() {
        use ErrorCode as E;
        assert_eq!(E::NONE.write_outcome(), WriteOutcome::Ok);
        assert_eq!(E::NOT_ENOUGH_REPLICAS.write_outcome(), WriteOutcome::Fail);
        assert_eq!(
            E::NOT_ENOUGH_REPLICAS_AFTER_APPEND.write_outcome(),
            WriteOutcome::Info
        );
        assert_eq!(E::REQUEST_TIMED_OUT.write_outcome(), WriteOutcome::Info);
        assert_eq!(
            E::NOT_LEADER_OR_FOLLOWER.write_outcome(),
            WriteOutcome::Info
        );
    }
}
