//! The classic group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) for one group,
//! as a pure state machine: each handler takes a request and the time, changes the group and
//! pushes responses (to this request or to held ones) and records into a [`Ctx`].
//!
//! Invariants, asserted after every handler and tick ([`ClassicGroup::assert_invariants`]):
//! - state changes only along Kafka's edges ([`GroupState::assert_transition`]);
//! - the leader, if any, is a member; a group with members has a leader unless Empty;
//! - Empty and Dead groups have no members; the generation never decreases;
//! - every static member's instance id maps back to it, and no instance id maps to a
//!   non-member;
//! - only PreparingRebalance holds JoinGroups, only CompletingRebalance holds SyncGroups.
//!
//! Held requests are always answered: when their phase completes, when their member is
//! removed (UNKNOWN_MEMBER_ID) or fenced (FENCED_INSTANCE_ID), or when a rebalance starts
//! (REBALANCE_IN_PROGRESS for held SyncGroups).

use std::collections::{BTreeMap, BTreeSet};

use crate::group::consumer_protocol::decode_subscription;
use crate::protocol::codes::ErrorCode;

use super::api::{
    Effects, HeartbeatRequest, JoinMember, JoinRequest, JoinResponse, LeaveResponse, LeavingMember,
    RequestToken, Response, SyncRequest, SyncResponse, MEMBER_ID_UNKNOWN,
};
use super::member::Member;
use super::records::{GroupMetadataValue, MemberMetadataValue, Record};
use super::state::GroupState;
use super::CoordinatorConfig;

/// What a handler needs from the coordinator: the time, the config, and where to put effects.
pub struct Ctx<'a> {
    pub now_ms: i64,
    pub config: &'a CoordinatorConfig,
    pub effects: &'a mut Effects,
    /// Records to persist without holding any response on them (group metadata).
    pub records: &'a mut Vec<Record>,
    /// The coordinator-wide counter behind generated member ids.
    pub next_member_number: &'a mut u64,
    /// Set by a leader's SyncGroup: the generation and assignment whose write the group
    /// waits for (the coordinator ties it to the records' persist token).
    pub stored_assignment: &'a mut Option<(i32, BTreeMap<String, Vec<u8>>)>,
}

impl Ctx<'_> {
    fn new_member_id(&mut self, client_id: &str) -> String {
        *self.next_member_number += 1;
        match self.config.member_id_salt {
            0 => format!("{client_id}-{}", self.next_member_number),
            salt => format!("{client_id}-{salt:016x}-{}", self.next_member_number),
        }
    }
}

/// The initial-rebalance-delay phase of a join (Kafka's `InitialDelayedJoin`): while the group
/// fills up from Empty, each expiry extends the wait if new members came, up to the rebalance
/// timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InitialDelay {
    remaining_ms: i64,
    new_member_added: bool,
}

/// One classic group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicGroup {
    pub group_id: String,
    pub state: GroupState,
    /// When the group entered its state (Kafka's `currentStateTimestamp`): offsets of an Empty
    /// group expire counting from it.
    pub state_timestamp_ms: i64,
    pub generation_id: i32,
    /// "consumer", "connect", …; `None` for a simple group made by a standalone commit.
    pub protocol_type: Option<String>,
    /// The protocol selected in the current generation.
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    pub static_members: BTreeMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with when they lapse if not used.
    pub pending_members: BTreeMap<String, i64>,
    /// When the join phase ends (PreparingRebalance only).
    join_deadline_ms: Option<i64>,
    initial_delay: Option<InitialDelay>,
    /// Members that have not sent SyncGroup for this generation, and when they are removed.
    pending_sync: BTreeSet<String>,
    sync_deadline_ms: Option<i64>,
    next_join_order: u64,
    /// The topics the members subscribed to when the current generation began (Kafka's
    /// `subscribedTopics`, computed in `initNextGeneration` and on load): `Some(empty)` for an
    /// Empty consumer group, `None` when unknown. Offset expiry of a consumer group with
    /// members reads it.
    pub subscribed_topics: Option<BTreeSet<String>>,
}

impl ClassicGroup {
    /// A new, Empty group.
    pub fn new(group_id: &str, now_ms: i64) -> ClassicGroup {
        ClassicGroup {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            state_timestamp_ms: now_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            join_deadline_ms: None,
            initial_delay: None,
            pending_sync: BTreeSet::new(),
            sync_deadline_ms: None,
            next_join_order: 0,
            subscribed_topics: None,
        }
    }

    /// The group as its last GroupMetadata record left it (Kafka's `GroupMetadata.loadGroup`
    /// then `onGroupLoaded`): Empty without members, else Stable, with the record's generation,
    /// protocol, leader and members. Each member supports only the selected protocol, with the
    /// subscription the record kept, and its session starts at `now_ms`. Members are ordered
    /// for leadership as the record lists them.
    pub fn restore(group_id: &str, value: &GroupMetadataValue, now_ms: i64) -> ClassicGroup {
        let mut group = ClassicGroup::new(group_id, value.current_state_timestamp_ms);
        group.state = if value.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group.generation_id = value.generation_id;
        group.protocol_type = Some(value.protocol_type.clone()).filter(|t| !t.is_empty());
        group.protocol_name = value.protocol_name.clone();
        group.leader_id = value.leader.clone();
        for stored in &value.members {
            let protocols = match &value.protocol_name {
                Some(protocol) => vec![(protocol.clone(), stored.subscription.clone())],
                None => Vec::new(),
            };
            group.next_join_order += 1;
            let member = Member {
                member_id: stored.member_id.clone(),
                group_instance_id: stored.group_instance_id.clone(),
                client_id: stored.client_id.clone(),
                client_host: stored.client_host.clone(),
                session_timeout_ms: stored.session_timeout_ms,
                rebalance_timeout_ms: stored.rebalance_timeout_ms,
                protocol_type: value.protocol_type.clone(),
                protocols,
                assignment: stored.assignment.clone(),
                join_waiter: None,
                sync_waiter: None,
                session_deadline_ms: now_ms + i64::from(stored.session_timeout_ms),
                join_order: group.next_join_order,
            };
            if let Some(instance) = &member.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), member.member_id.clone());
            }
            let previous = group.members.insert(member.member_id.clone(), member);
            assert!(
                previous.is_none(),
                "group {group_id}: member {} stored twice in one record",
                stored.member_id
            );
        }
        assert!(
            group.members.is_empty() || group.protocol_name.is_some(),
            "group {group_id}: a record with members names the selected protocol"
        );
        group.subscribed_topics = group.compute_subscribed_topics();
        group.assert_invariants();
        group
    }

    // ----- JoinGroup -------------------------------------------------------------------

    /// JoinGroup (Kafka's `classicGroupJoin` after the group is found or created).
    pub fn join(&mut self, ctx: &mut Ctx, token: RequestToken, request: &JoinRequest) {
        let reply = |ctx: &mut Ctx, error: ErrorCode| {
            let response = JoinResponse::error(error, &request.member_id);
            ctx.effects.respond(token, Response::Join(response));
        };
        let session = request.session_timeout_ms;
        if session < ctx.config.group_min_session_timeout_ms
            || session > ctx.config.group_max_session_timeout_ms
        {
            return reply(ctx, ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        let is_new_member = request.member_id == MEMBER_ID_UNKNOWN;
        let known_static = request
            .group_instance_id
            .as_ref()
            .is_some_and(|instance| self.static_members.contains_key(instance));
        let joining_adds_member =
            is_new_member && !known_static || self.pending_members.contains_key(&request.member_id);
        if joining_adds_member && self.members.len() >= ctx.config.group_max_size {
            self.pending_members.remove(&request.member_id);
            return reply(ctx, ErrorCode::GROUP_MAX_SIZE_REACHED);
        }
        if self.state == GroupState::Dead {
            return reply(ctx, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            return reply(ctx, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        if is_new_member {
            self.join_new_member(ctx, token, request);
        } else {
            self.join_existing_member(ctx, token, request);
        }
        self.assert_invariants();
    }

    fn join_new_member(&mut self, ctx: &mut Ctx, token: RequestToken, request: &JoinRequest) {
        let member_id = ctx.new_member_id(&request.client_id);
        match &request.group_instance_id {
            Some(instance) if self.static_members.contains_key(instance) => {
                self.replace_static_member(ctx, token, request, instance, member_id)
            }
            Some(_) => self.add_member_and_rebalance(ctx, token, request, member_id),
            None if request.version >= 4 => {
                // KIP-394: the member must come back with this id before it counts.
                let deadline = ctx.now_ms + i64::from(request.session_timeout_ms);
                self.pending_members.insert(member_id.clone(), deadline);
                let response = JoinResponse::error(ErrorCode::MEMBER_ID_REQUIRED, &member_id);
                ctx.effects.respond(token, Response::Join(response));
            }
            None => self.add_member_and_rebalance(ctx, token, request, member_id),
        }
    }

    fn join_existing_member(&mut self, ctx: &mut Ctx, token: RequestToken, request: &JoinRequest) {
        let member_id = request.member_id.clone();
        if self.pending_members.remove(&member_id).is_some() {
            return self.add_member_and_rebalance(ctx, token, request, member_id);
        }
        let instance = request.group_instance_id.as_deref();
        if let Err(error) = self.validate_member(&member_id, instance) {
            let response = JoinResponse::error(error, &member_id);
            return ctx.effects.respond(token, Response::Join(response));
        }
        let member = &self.members[&member_id];
        let unchanged = member.matches(&request.protocols);
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(ctx, token, request),
            GroupState::CompletingRebalance if unchanged => {
                // A resent JoinGroup: answer with the generation being completed.
                let leader = self.is_leader(&member_id);
                let response = self.current_join_response(&member_id, leader, false);
                ctx.effects.respond(token, Response::Join(response));
            }
            GroupState::Stable if unchanged && !self.is_leader(&member_id) => {
                let response = self.current_join_response(&member_id, false, false);
                ctx.effects.respond(token, Response::Join(response));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(ctx, token, request)
            }
            GroupState::Empty | GroupState::Dead => {
                unreachable!("validate_member found a member in a group without members")
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        ctx: &mut Ctx,
        token: RequestToken,
        request: &JoinRequest,
        member_id: String,
    ) {
        assert!(
            !self.members.contains_key(&member_id),
            "member ids are unique"
        );
        self.next_join_order += 1;
        let member = Member {
            member_id: member_id.clone(),
            group_instance_id: request.group_instance_id.clone(),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocol_type: request.protocol_type.clone(),
            protocols: request.protocols.clone(),
            assignment: Vec::new(),
            join_waiter: Some(token),
            sync_waiter: None,
            session_deadline_ms: ctx.now_ms + i64::from(request.session_timeout_ms),
            join_order: self.next_join_order,
        };
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        if let Some(instance) = &request.group_instance_id {
            self.static_members
                .insert(instance.clone(), member_id.clone());
        }
        self.members.insert(member_id.clone(), member);
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id);
        }
        if let Some(delay) = &mut self.initial_delay {
            delay.new_member_added = true;
        }
        self.rebalance_or_complete_join(ctx);
    }

    fn update_member_and_rebalance(
        &mut self,
        ctx: &mut Ctx,
        token: RequestToken,
        request: &JoinRequest,
    ) {
        let member = self.members.get_mut(&request.member_id).expect("validated");
        member.protocols = request.protocols.clone();
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_deadline_ms = ctx.now_ms + i64::from(request.session_timeout_ms);
        if let Some(older) = member.join_waiter.replace(token) {
            // Every held request is answered: the newer JoinGroup supersedes this one.
            let response = JoinResponse::error(ErrorCode::REBALANCE_IN_PROGRESS, &member.member_id);
            ctx.effects.respond(older, Response::Join(response));
        }
        self.rebalance_or_complete_join(ctx);
    }

    /// KIP-345: a known group.instance.id rejoining with no member id takes a new member id;
    /// the old id is fenced. A Stable group whose selected protocol stays the same does not
    /// rebalance.
    fn replace_static_member(
        &mut self,
        ctx: &mut Ctx,
        token: RequestToken,
        request: &JoinRequest,
        instance: &str,
        new_member_id: String,
    ) {
        let old_member_id = self.static_members[instance].clone();
        let mut member = self
            .members
            .remove(&old_member_id)
            .expect("static map is consistent");
        for waiter in [member.join_waiter.take()].into_iter().flatten() {
            let response = JoinResponse::error(ErrorCode::FENCED_INSTANCE_ID, &old_member_id);
            ctx.effects.respond(waiter, Response::Join(response));
        }
        if let Some(waiter) = member.sync_waiter.take() {
            let response = SyncResponse::error(ErrorCode::FENCED_INSTANCE_ID);
            ctx.effects.respond(waiter, Response::Sync(response));
        }
        if self.pending_sync.remove(&old_member_id) {
            self.pending_sync.insert(new_member_id.clone());
        }
        member.member_id = new_member_id.clone();
        member.client_id = request.client_id.clone();
        member.client_host = request.client_host.clone();
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_deadline_ms = ctx.now_ms + i64::from(request.session_timeout_ms);
        member.protocols = request.protocols.clone();
        self.members.insert(new_member_id.clone(), member);
        self.static_members
            .insert(instance.to_string(), new_member_id.clone());
        if self.leader_id.as_deref() == Some(old_member_id.as_str()) {
            self.leader_id = Some(new_member_id.clone());
        }
        match self.state {
            GroupState::PreparingRebalance => {
                self.members.get_mut(&new_member_id).unwrap().join_waiter = Some(token);
                self.maybe_complete_join(ctx);
            }
            GroupState::Stable
                if self.protocol_name.as_deref() == Some(&*self.select_protocol()) =>
            {
                let leader = self.is_leader(&new_member_id);
                let skip_assignment = leader && request.version >= 9;
                let response =
                    self.current_join_response(&new_member_id, skip_assignment, skip_assignment);
                ctx.effects.respond(token, Response::Join(response));
                let record = self.metadata_record(ctx.now_ms);
                ctx.records.push(record);
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                // In CompletingRebalance the leader may already be assigning to the old id:
                // Kafka rebalances again so the new id gets an assignment.
                self.members.get_mut(&new_member_id).unwrap().join_waiter = Some(token);
                self.prepare_rebalance(ctx);
            }
            GroupState::Empty | GroupState::Dead => {
                unreachable!("a group with a static member is not {}", self.state)
            }
        }
    }

    // ----- SyncGroup -------------------------------------------------------------------

    /// SyncGroup (Kafka's `classicGroupSync`).
    pub fn sync(&mut self, ctx: &mut Ctx, token: RequestToken, request: &SyncRequest) {
        if let Err(error) = self.validate_sync(request) {
            let response = Response::Sync(SyncResponse::error(error));
            return ctx.effects.respond(token, response);
        }
        let member_id = &request.member_id;
        match self.state {
            GroupState::Empty => {
                let response = SyncResponse::error(ErrorCode::UNKNOWN_MEMBER_ID);
                ctx.effects.respond(token, Response::Sync(response));
            }
            GroupState::PreparingRebalance => {
                let response = SyncResponse::error(ErrorCode::REBALANCE_IN_PROGRESS);
                ctx.effects.respond(token, Response::Sync(response));
            }
            GroupState::CompletingRebalance => {
                self.remove_pending_sync(member_id);
                let member = self.members.get_mut(member_id).expect("validated");
                member.session_deadline_ms = ctx.now_ms + i64::from(member.session_timeout_ms);
                if let Some(older) = member.sync_waiter.replace(token) {
                    let response = SyncResponse::error(ErrorCode::REBALANCE_IN_PROGRESS);
                    ctx.effects.respond(older, Response::Sync(response));
                }
                if self.is_leader(member_id) {
                    self.store_assignment(ctx, &request.assignments);
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync(member_id);
                let member = self.members.get_mut(member_id).expect("validated");
                member.session_deadline_ms = ctx.now_ms + i64::from(member.session_timeout_ms);
                let response = self.sync_response(member_id);
                ctx.effects.respond(token, Response::Sync(response));
            }
            GroupState::Dead => unreachable!("validate_sync refuses a Dead group"),
        }
        self.assert_invariants();
    }

    fn validate_sync(&self, request: &SyncRequest) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        self.validate_member(&request.member_id, request.group_instance_id.as_deref())?;
        if request.generation_id != self.generation_id {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
        let type_mismatch = request
            .protocol_type
            .as_ref()
            .is_some_and(|given| self.protocol_type.as_ref() != Some(given));
        let name_mismatch = request
            .protocol_name
            .as_ref()
            .is_some_and(|given| self.protocol_name.as_ref() != Some(given));
        if type_mismatch || name_mismatch {
            return Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        Ok(())
    }

    /// The leader's assignment is written first (Kafka's `storeGroup`); the group stays in
    /// CompletingRebalance, holding every SyncGroup, until the shell reports the write
    /// ([`ClassicGroup::assignment_persisted`]).
    fn store_assignment(&mut self, ctx: &mut Ctx, assignments: &[(String, Vec<u8>)]) {
        let assignments = self.complete_assignment(assignments);
        let mut record = self.metadata_record(ctx.now_ms);
        if let Record::GroupMetadata {
            value: Some(value), ..
        } = &mut record
        {
            for member in &mut value.members {
                member.assignment = assignments[&member.member_id].clone();
            }
        }
        ctx.records.push(record);
        *ctx.stored_assignment = Some((self.generation_id, assignments));
    }

    /// Every member's share: empty when the leader named none; ids the group does not know
    /// are dropped.
    fn complete_assignment(&self, given: &[(String, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
        let given: BTreeMap<&str, &Vec<u8>> = given
            .iter()
            .map(|(member_id, bytes)| (member_id.as_str(), bytes))
            .collect();
        self.members
            .keys()
            .map(|id| {
                (
                    id.clone(),
                    given
                        .get(id.as_str())
                        .map(|b| b.to_vec())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The leader's assignment for `generation` was persisted (`error` NONE) or not. On
    /// success, if the group is still completing that generation, every member gets its
    /// share, held SyncGroups are answered and the group is Stable. On failure the held
    /// SyncGroups get the error and the group rebalances (Kafka's
    /// `resetAndPropagateAssignmentWithError` then `maybePrepareRebalance`).
    pub fn assignment_persisted(
        &mut self,
        ctx: &mut Ctx,
        generation: i32,
        assignments: &BTreeMap<String, Vec<u8>>,
        error: ErrorCode,
    ) {
        if self.state != GroupState::CompletingRebalance || self.generation_id != generation {
            return; // a rebalance overtook the write; its waiters were answered then
        }
        if error != ErrorCode::NONE {
            for member in self.members.values_mut() {
                if let Some(waiter) = member.sync_waiter.take() {
                    ctx.effects
                        .respond(waiter, Response::Sync(SyncResponse::error(error)));
                }
            }
            self.prepare_rebalance(ctx);
            self.assert_invariants();
            return;
        }
        for (member_id, member) in &mut self.members {
            // A member that joined the generation has a share; a static member replaced
            // since would have restarted the rebalance.
            member.assignment = assignments.get(member_id).cloned().unwrap_or_default();
        }
        self.transition(GroupState::Stable, ctx.now_ms);
        let waiting: Vec<(String, RequestToken)> = self
            .members
            .iter_mut()
            .filter_map(|(id, member)| member.sync_waiter.take().map(|t| (id.clone(), t)))
            .collect();
        for (member_id, waiter) in waiting {
            let response = self.sync_response(&member_id);
            ctx.effects.respond(waiter, Response::Sync(response));
        }
        self.assert_invariants();
    }

    fn sync_response(&self, member_id: &str) -> SyncResponse {
        SyncResponse {
            error: ErrorCode::NONE,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self.members[member_id].assignment.clone(),
        }
    }

    // ----- Heartbeat and LeaveGroup ----------------------------------------------------

    /// Heartbeat (Kafka's `classicGroupHeartbeat`): keeps the session alive and tells the
    /// member when to rejoin.
    pub fn heartbeat(&mut self, ctx: &mut Ctx, request: &HeartbeatRequest) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        let instance = request.group_instance_id.as_deref();
        if let Err(error) = self.validate_member(&request.member_id, instance) {
            return error;
        }
        if request.generation_id != self.generation_id {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let member = self.members.get_mut(&request.member_id).expect("validated");
        member.session_deadline_ms = ctx.now_ms + i64::from(member.session_timeout_ms);
        match self.state {
            GroupState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::NONE,
            GroupState::Empty | GroupState::Dead => unreachable!("validated member"),
        }
    }

    /// LeaveGroup (v3+ batch form; v0-2 is one member by id).
    pub fn leave(&mut self, ctx: &mut Ctx, members: &[LeavingMember]) -> LeaveResponse {
        if self.state == GroupState::Dead {
            return LeaveResponse {
                error: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                members: Vec::new(),
            };
        }
        let mut results = Vec::with_capacity(members.len());
        for leaving in members {
            let error = self.leave_one(ctx, leaving);
            results.push((leaving.clone(), error));
        }
        self.assert_invariants();
        LeaveResponse {
            error: ErrorCode::NONE,
            members: results,
        }
    }

    fn leave_one(&mut self, ctx: &mut Ctx, leaving: &LeavingMember) -> ErrorCode {
        let member_id = match &leaving.group_instance_id {
            None => {
                if self.pending_members.remove(&leaving.member_id).is_some() {
                    self.maybe_complete_join(ctx);
                    return ErrorCode::NONE;
                }
                if !self.members.contains_key(&leaving.member_id) {
                    return ErrorCode::UNKNOWN_MEMBER_ID;
                }
                leaving.member_id.clone()
            }
            Some(instance) => match self.static_members.get(instance) {
                None => return ErrorCode::UNKNOWN_MEMBER_ID,
                Some(current)
                    if leaving.member_id != MEMBER_ID_UNKNOWN && *current != leaving.member_id =>
                {
                    return ErrorCode::FENCED_INSTANCE_ID
                }
                Some(current) => current.clone(),
            },
        };
        self.remove_member_and_rebalance(ctx, &member_id);
        ErrorCode::NONE
    }

    // ----- Timers ----------------------------------------------------------------------

    /// Advances the group's timers to `now_ms`: pending member ids lapse, sessions expire,
    /// the join phase ends, members that never synced are removed.
    pub fn tick(&mut self, ctx: &mut Ctx) {
        let now = ctx.now_ms;
        let lapsed: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for member_id in lapsed {
            self.pending_members.remove(&member_id);
            self.maybe_complete_join(ctx);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
            .filter(|m| m.session_deadline_ms <= now)
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in expired {
            if self.members.contains_key(&member_id) {
                self.remove_member_and_rebalance(ctx, &member_id);
            }
        }
        if self.state == GroupState::PreparingRebalance
            && self
                .join_deadline_ms
                .is_some_and(|deadline| deadline <= now)
        {
            self.join_deadline_expired(ctx);
        }
        if self
            .sync_deadline_ms
            .is_some_and(|deadline| deadline <= now)
        {
            self.sync_deadline_expired(ctx);
        }
        self.assert_invariants();
    }

    /// The earliest time at which [`ClassicGroup::tick`] would change something.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
            .map(|m| m.session_deadline_ms);
        let join = self
            .join_deadline_ms
            .filter(|_| self.state == GroupState::PreparingRebalance);
        sessions
            .chain(self.pending_members.values().copied())
            .chain(join)
            .chain(self.sync_deadline_ms)
            .min()
    }

    fn join_deadline_expired(&mut self, ctx: &mut Ctx) {
        if let Some(delay) = &mut self.initial_delay {
            if delay.new_member_added && delay.remaining_ms > 0 {
                let wait = ctx
                    .config
                    .group_initial_rebalance_delay_ms
                    .min(delay.remaining_ms);
                delay.remaining_ms -= wait;
                delay.new_member_added = false;
                self.join_deadline_ms = Some(ctx.now_ms + wait);
                return;
            }
        }
        self.complete_join(ctx);
    }

    fn sync_deadline_expired(&mut self, ctx: &mut Ctx) {
        self.sync_deadline_ms = None;
        let missing: Vec<String> = std::mem::take(&mut self.pending_sync).into_iter().collect();
        if missing.is_empty() {
            return;
        }
        for member_id in &missing {
            if self.members.contains_key(member_id) {
                self.remove_member(ctx, member_id);
            }
        }
        self.after_member_removed(ctx);
    }

    // ----- Rebalance mechanics ---------------------------------------------------------

    fn rebalance_or_complete_join(&mut self, ctx: &mut Ctx) {
        if self.state.can_transition_to(GroupState::PreparingRebalance)
            && self.state != GroupState::Dead
        {
            self.prepare_rebalance(ctx);
        } else {
            self.maybe_complete_join(ctx);
        }
    }

    /// Starts a join phase (Kafka's `prepareRebalance`). From Empty the phase waits at least
    /// `group.initial.rebalance.delay.ms`; otherwise up to the longest rebalance timeout.
    fn prepare_rebalance(&mut self, ctx: &mut Ctx) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                member.assignment.clear();
                if let Some(waiter) = member.sync_waiter.take() {
                    let response = SyncResponse::error(ErrorCode::REBALANCE_IN_PROGRESS);
                    ctx.effects.respond(waiter, Response::Sync(response));
                }
            }
        }
        self.pending_sync.clear();
        self.sync_deadline_ms = None;
        let rebalance_timeout_ms = self.rebalance_timeout_ms();
        if self.state == GroupState::Empty {
            let delay = ctx.config.group_initial_rebalance_delay_ms;
            self.initial_delay = Some(InitialDelay {
                remaining_ms: (rebalance_timeout_ms - delay).max(0),
                new_member_added: false,
            });
            self.join_deadline_ms = Some(ctx.now_ms + delay);
        } else {
            self.initial_delay = None;
            self.join_deadline_ms = Some(ctx.now_ms + rebalance_timeout_ms);
        }
        self.transition(GroupState::PreparingRebalance, ctx.now_ms);
        self.maybe_complete_join(ctx);
    }

    /// Completes the join phase early when every member and every pending id has joined
    /// (never during the initial delay, which is a wait on purpose).
    fn maybe_complete_join(&mut self, ctx: &mut Ctx) {
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some())
            && self.pending_members.is_empty();
        if self.state == GroupState::PreparingRebalance
            && self.initial_delay.is_none()
            && all_joined
        {
            self.complete_join(ctx);
        }
    }

    /// Ends the join phase (Kafka's `onCompleteJoin`): members that did not rejoin are
    /// removed, the generation advances, a protocol is selected and every held JoinGroup is
    /// answered; the leader's answer lists all members with their metadata.
    fn complete_join(&mut self, ctx: &mut Ctx) {
        let not_rejoined: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in &not_rejoined {
            self.remove_member(ctx, member_id);
        }
        self.join_deadline_ms = None;
        self.initial_delay = None;
        let previous_generation = self.generation_id;
        self.generation_id += 1;
        assert!(
            self.generation_id > previous_generation,
            "generation overflow"
        );
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::Empty, ctx.now_ms);
            let record = self.metadata_record(ctx.now_ms);
            ctx.records.push(record);
            return;
        }
        self.protocol_name = Some(self.select_protocol());
        self.subscribed_topics = self.compute_subscribed_topics();
        self.transition(GroupState::CompletingRebalance, ctx.now_ms);
        let leader_id = self
            .leader_id
            .clone()
            .expect("a group with members has a leader");
        let member_ids: Vec<String> = self.members.keys().cloned().collect();
        for member_id in &member_ids {
            let is_leader = *member_id == leader_id;
            let response = self.current_join_response(member_id, is_leader, false);
            let member = self.members.get_mut(member_id).expect("listed");
            let waiter = member
                .join_waiter
                .take()
                .expect("every remaining member rejoined");
            member.session_deadline_ms = ctx.now_ms + i64::from(member.session_timeout_ms);
            ctx.effects.respond(waiter, Response::Join(response));
        }
        self.pending_sync = member_ids.into_iter().collect();
        self.sync_deadline_ms = Some(ctx.now_ms + self.rebalance_timeout_ms());
    }

    fn remove_member_and_rebalance(&mut self, ctx: &mut Ctx, member_id: &str) {
        self.remove_member(ctx, member_id);
        self.after_member_removed(ctx);
    }

    fn after_member_removed(&mut self, ctx: &mut Ctx) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(ctx),
            GroupState::PreparingRebalance => self.maybe_complete_join(ctx),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Removes a member, answering its held requests with UNKNOWN_MEMBER_ID, and moves the
    /// leadership to the earliest remaining member.
    fn remove_member(&mut self, ctx: &mut Ctx, member_id: &str) {
        let member = self.members.remove(member_id).expect("removing a member");
        if let Some(waiter) = member.join_waiter {
            let response = JoinResponse::error(ErrorCode::UNKNOWN_MEMBER_ID, member_id);
            ctx.effects.respond(waiter, Response::Join(response));
        }
        if let Some(waiter) = member.sync_waiter {
            let response = SyncResponse::error(ErrorCode::UNKNOWN_MEMBER_ID);
            ctx.effects.respond(waiter, Response::Sync(response));
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members.remove(instance);
        }
        self.pending_sync.remove(member_id);
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self
                .members
                .values()
                .min_by_key(|m| m.join_order)
                .map(|m| m.member_id.clone());
        }
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline_ms = None;
        }
    }

    fn transition(&mut self, next: GroupState, now_ms: i64) {
        self.state.assert_transition(next, &self.group_id);
        self.state = next;
        self.state_timestamp_ms = now_ms;
    }

    /// Marks the group Dead (deleted, or expired with no offsets left).
    pub fn mark_dead(&mut self, now_ms: i64) {
        assert!(self.members.is_empty(), "only a group without members dies");
        self.transition(GroupState::Dead, now_ms);
    }

    // ----- Queries ---------------------------------------------------------------------

    /// Kafka's `supportsProtocols`: an Empty group takes any non-empty protocol list; a
    /// group with members needs the same protocol type and one protocol every member has.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols
            .iter()
            .any(|(name, _)| candidates.contains(name.as_str()))
    }

    /// The protocols every member supports.
    fn candidate_protocols(&self) -> BTreeSet<&str> {
        let mut members = self.members.values();
        let mut candidates = members
            .next()
            .map(Member::protocol_names)
            .unwrap_or_default();
        for member in members {
            let names = member.protocol_names();
            candidates.retain(|name| names.contains(name));
        }
        candidates
    }

    /// Kafka's `selectProtocol`: each member votes for its most preferred candidate; the
    /// most votes win. Kafka breaks ties by hash-map order; here the smaller name wins, so
    /// the choice is deterministic.
    pub fn select_protocol(&self) -> String {
        let candidates = self.candidate_protocols();
        assert!(
            !candidates.is_empty(),
            "join admitted only members sharing a protocol"
        );
        let mut votes: BTreeMap<String, usize> = BTreeMap::new();
        for member in self.members.values() {
            *votes.entry(member.vote(&candidates)).or_default() += 1;
        }
        let most = votes.values().copied().max().expect("votes");
        let winner = votes.into_iter().find(|(_, count)| *count == most);
        winner.expect("a winner").0
    }

    /// The topics the members of a consumer group subscribe to, read from their metadata for
    /// the selected protocol (Kafka's `computeSubscribedTopics`): `None` when unknown (no
    /// protocol selected, not a consumer group, or metadata that does not parse).
    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_ref()?;
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            let (subscription, _) = decode_subscription(member.metadata(protocol)?).ok()?;
            topics.extend(subscription.topics);
        }
        Some(topics)
    }

    /// Kafka's `validateMember`: static members are checked by instance id (another member
    /// id holding it is fenced), dynamic ones by id.
    pub fn validate_member(
        &self,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ErrorCode> {
        match instance {
            Some(instance) => match self.static_members.get(instance) {
                None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(current) if current != member_id => Err(ErrorCode::FENCED_INSTANCE_ID),
                Some(_) => Ok(()),
            },
            None if self.members.contains_key(member_id) => Ok(()),
            None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
        }
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The longest rebalance timeout among members (Kafka's `rebalanceTimeoutMs`).
    fn rebalance_timeout_ms(&self) -> i64 {
        let longest = self.members.values().map(|m| m.rebalance_timeout_ms).max();
        i64::from(longest.unwrap_or(0))
    }

    /// A JoinGroup answer for the current generation; `with_members` lists every member's
    /// metadata for the selected protocol (the leader's answer).
    fn current_join_response(
        &self,
        member_id: &str,
        with_members: bool,
        skip_assignment: bool,
    ) -> JoinResponse {
        let protocol = self
            .protocol_name
            .clone()
            .expect("a completed join selected a protocol");
        let members = if with_members {
            self.members
                .values()
                .map(|m| JoinMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m
                        .metadata(&protocol)
                        .expect("supports the selected")
                        .to_vec(),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResponse {
            error: ErrorCode::NONE,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: Some(protocol),
            leader: self.leader_id.clone().unwrap_or_default(),
            skip_assignment,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// The group's metadata as `__consumer_offsets` stores it.
    pub fn metadata_record(&self, now_ms: i64) -> Record {
        let protocol = self.protocol_name.as_deref();
        let members = self
            .members
            .values()
            .map(|m| MemberMetadataValue {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: protocol
                    .and_then(|p| m.metadata(p))
                    .unwrap_or_default()
                    .to_vec(),
                assignment: m.assignment.clone(),
            })
            .collect();
        Record::GroupMetadata {
            group_id: self.group_id.clone(),
            value: Some(GroupMetadataValue {
                protocol_type: self.protocol_type.clone().unwrap_or_default(),
                generation_id: self.generation_id,
                protocol_name: self.protocol_name.clone(),
                leader: self.leader_id.clone(),
                current_state_timestamp_ms: now_ms,
                members,
            }),
        }
    }

    /// The invariants in the module doc; called after every handler.
    pub fn assert_invariants(&self) {
        let id = &self.group_id;
        if let Some(leader) = &self.leader_id {
            assert!(
                self.members.contains_key(leader),
                "group {id}: leader {leader} is not a member"
            );
        }
        assert_eq!(
            self.members.is_empty(),
            self.leader_id.is_none(),
            "group {id}: leader iff members"
        );
        if matches!(self.state, GroupState::Empty | GroupState::Dead) {
            assert!(
                self.members.is_empty(),
                "group {id}: {} with members",
                self.state
            );
        }
        for (instance, member_id) in &self.static_members {
            let member = self.members.get(member_id);
            assert!(
                member.is_some_and(|m| m.group_instance_id.as_deref() == Some(instance)),
                "group {id}: instance {instance} maps to {member_id}, not a member with it"
            );
        }
        for member in self.members.values() {
            assert!(
                member.join_waiter.is_none() || self.state == GroupState::PreparingRebalance,
                "group {id}: a JoinGroup held in {}",
                self.state
            );
            assert!(
                member.sync_waiter.is_none() || self.state == GroupState::CompletingRebalance,
                "group {id}: a SyncGroup held in {}",
                self.state
            );
        }
        assert!(self.generation_id >= 0, "group {id}: negative generation");
    }
}
