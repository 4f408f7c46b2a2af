//! Unit and property tests for the leader's replication decisions.

use super::*;
