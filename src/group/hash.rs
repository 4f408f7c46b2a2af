//! Group placement: which `__consumer_offsets` partition holds a group's state.
//!
//! Kafka places a group on partition `abs(group.id.hashCode()) % offsets.topic.num.partitions`
//! (`Utils.abs`, where `abs(Integer.MIN_VALUE)` is 0, not `Integer.MIN_VALUE`), and a
//! transactional id on `__transaction_state` the same way. The hash is Java's
//! `String.hashCode`: `h = 31 * h + c` over the UTF-16 code units, wrapping in 32 bits, so a
//! character outside the Basic Multilingual Plane counts as its two surrogates.
//!
//! Invariant: the result is always in `0..partitions`.

use std::cmp::Ordering;

/// Kafka's default `offsets.topic.num.partitions` (and `transaction.state.log.num.partitions`).
pub const OFFSETS_TOPIC_PARTITIONS_DEFAULT: i32 = 50;

/// Java's `String.hashCode`: `31 * h + c` over UTF-16 code units, with int32 wrap-around.
pub fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Kafka's `Utils.abs`: the absolute value, except `i32::MIN` maps to 0 (Java's `Math.abs`
/// would leave it negative and the modulo would pick a negative partition).
pub fn kafka_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// The coordinator partition for a group id (or a transactional id): `abs(hash) % partitions`.
pub fn coordinator_partition(key: &str, partitions: i32) -> i32 {
    assert!(
        partitions > 0,
        "the coordinator topic has {partitions} partitions"
    );
    let partition = kafka_abs(java_string_hash(key)) % partitions;
    assert!((0..partitions).contains(&partition));
    partition
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units. It differs from Rust's
/// `str` order (code points) only when one string has a supplementary character where the
/// other has one in U+E000..U+FFFF; assignors order member ids this way, as Kafka does.
pub fn java_string_cmp(left: &str, right: &str) -> Ordering {
    left.encode_utf16().cmp(right.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_hash_codes_match_the_jdk() {
        // Values any JDK prints for "…".hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("ab"), 97 * 31 + 98);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn java_hash_counts_surrogate_pairs_as_two_units() {
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16.
        let expected = 0xD83Di32.wrapping_mul(31).wrapping_add(0xDE00);
        assert_eq!(java_string_hash("\u{1F600}"), expected);
        // A BMP character is one unit whatever its UTF-8 length.
        assert_eq!(java_string_hash("é"), 0xE9);
    }

    #[test]
    fn coordinator_partition_vectors_from_the_reference() {
        let fifty = OFFSETS_TOPIC_PARTITIONS_DEFAULT;
        assert_eq!(coordinator_partition("test-group", fifty), 12);
        assert_eq!(coordinator_partition("my-group", fifty), 12);
        assert_eq!(coordinator_partition("group1", fifty), 40);
        assert_eq!(coordinator_partition("", fifty), 0);
        // hashCode is Integer.MIN_VALUE: Utils.abs gives 0, so partition 0, never negative.
        assert_eq!(coordinator_partition("polygenelubricants", fifty), 0);
    }

    #[test]
    fn kafka_abs_maps_min_to_zero() {
        assert_eq!(kafka_abs(i32::MIN), 0);
        assert_eq!(kafka_abs(-5), 5);
        assert_eq!(kafka_abs(i32::MAX), i32::MAX);
    }

    #[test]
    fn java_order_differs_from_rust_order_only_on_supplementary_characters() {
        // U+FF61 is one unit 0xFF61; U+10000 is D800 DC00, so Java puts it first.
        assert_eq!(java_string_cmp("\u{10000}", "\u{FF61}"), Ordering::Less);
        assert_eq!("\u{10000}".cmp("\u{FF61}"), Ordering::Greater);
        assert_eq!(java_string_cmp("consumer-a", "consumer-b"), Ordering::Less);
    }

    proptest! {
        #[test]
        fn coordinator_partition_is_in_range(key in ".*", partitions in 1i32..1000) {
            let partition = coordinator_partition(&key, partitions);
            prop_assert!((0..partitions).contains(&partition));
        }

        #[test]
        fn java_order_equals_rust_order_within_the_bmp_below_surrogates(
            left in "[\\u{0}-\\u{D7FF}]*", right in "[\\u{0}-\\u{D7FF}]*"
        ) {
            prop_assert_eq!(java_string_cmp(&left, &right), left.cmp(&right));
        }
    }
}
