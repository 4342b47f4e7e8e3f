//! Conversions between the store's model types and the API bodies of `contracts::api`.

use contracts::api;
use store::model as m;

pub fn role_in(role: api::Role) -> m::Role {
    match role {
        api::Role::Viewer => m::Role::Viewer,
        api::Role::Operator => m::Role::Operator,
        api::Role::Admin => m::Role::Admin,
    }
}

pub fn role_out(role: m::Role) -> api::Role {
    match role {
        m::Role::Viewer => api::Role::Viewer,
        m::Role::Operator => api::Role::Operator,
        m::Role::Admin => api::Role::Admin,
    }
}

pub fn user(user: &m::User) -> api::UserView {
    api::UserView {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        role: role_out(user.role),
        disabled: user.disabled,
        created_at: user.created_at,
    }
}

pub fn api_key(key: &m::ApiKey) -> api::ApiKeyView {
    api::ApiKeyView {
        id: key.id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        role: role_out(key.role),
        created_at: key.created_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
    }
}

pub fn campaign_state_out(state: m::CampaignState) -> api::CampaignState {
    match state {
        m::CampaignState::Draft => api::CampaignState::Draft,
        m::CampaignState::Running => api::CampaignState::Running,
        m::CampaignState::Paused => api::CampaignState::Paused,
        m::CampaignState::Completed => api::CampaignState::Completed,
    }
}

pub fn bot(bot: &m::Bot, version: &m::BotVersion) -> api::BotView {
    api::BotView {
        id: bot.id,
        name: bot.name.clone(),
        version: version.version,
        archived: bot.archived,
        spec: version.spec.clone(),
        updated_at: bot.updated_at,
    }
}

pub fn bot_version(version: &m::BotVersion) -> api::BotVersionView {
    api::BotVersionView {
        bot_id: version.bot_id,
        version: version.version,
        spec: version.spec.clone(),
        created_at: version.created_at,
    }
}

pub fn contact(contact: &m::Contact) -> api::ContactView {
    api::ContactView {
        id: contact.id,
        phone: contact.phone.clone(),
        timezone: contact.timezone.as_str().to_owned(),
        variables: contact.variables.clone(),
        status: contact.status.as_str().to_owned(),
        attempts: contact.attempts,
        next_attempt_at: contact.next_attempt_at,
        last_outcome: contact.last_outcome.clone(),
    }
}

pub fn call_summary(call: &m::Call) -> api::CallSummary {
    api::CallSummary {
        id: call.id,
        direction: call.direction,
        state: call.state,
        outcome: call.outcome,
        campaign_id: call.campaign_id,
        contact_id: call.contact_id,
        bot_id: call.bot_id,
        bot_version: call.bot_version,
        attempt: call.attempt,
        from: call.from.clone(),
        to: call.to.clone(),
        created_at: call.created_at,
        answered_at: call.answered_at,
        ended_at: call.ended_at,
        disposition: call.disposition.clone(),
    }
}

pub fn call_event(event: &m::CallEvent) -> api::CallEventView {
    api::CallEventView {
        from_state: event.from_state,
        to_state: event.to_state,
        outcome: event.outcome,
        detail: event.detail.clone(),
        at: event.at,
    }
}

pub fn audit(entry: &m::AuditEntry) -> api::AuditView {
    api::AuditView {
        id: entry.id,
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        entity: entry.entity.clone(),
        entity_id: entry.entity_id.clone(),
        detail: entry.detail.clone(),
        at: entry.at,
    }
}

/// A store page as an API page; the cursor is the last id, as text.
pub fn page<T, U>(paged: m::Paged<T>, each: impl Fn(&T) -> U) -> api::Page<U> {
    api::Page {
        items: paged.items.iter().map(each).collect(),
        next_cursor: paged.next_after.map(|id| id.to_string()),
    }
}
