//! Roles of API keys and the role each action needs, decided here and nowhere else.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Ordered lowest to highest: a key may do what its role and every lower role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Render,
    Editor,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Render,
        Role::Editor,
        Role::Manager,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Render => "render",
            Role::Editor => "editor",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn allows(self, action: Action) -> bool {
        self >= action.required_role()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}' (expected viewer, render, editor, manager or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Everything a key can ask of the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    List,
    Upload,
    CreateFolder,
    Move,
    Delete,
    /// Queue a preload: generation spends credits and may write into the drive.
    Generate,
    /// Register webhook endpoints and read their deliveries.
    ManageWebhooks,
    /// List, create and revoke the tenant's API keys, up to the caller's own role.
    ManageKeys,
}

impl Action {
    /// Seed 002: uploading and creating folders need `render`; moving and deleting are editing.
    /// Preloads write generated assets as uploads do, so they need `render` too.
    pub fn required_role(self) -> Role {
        match self {
            Action::List => Role::Viewer,
            Action::Upload | Action::CreateFolder | Action::Generate => Role::Render,
            Action::Move | Action::Delete => Role::Editor,
            Action::ManageWebhooks | Action::ManageKeys => Role::Manager,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_cumulative() {
        assert!(Role::Viewer.allows(Action::List));
        assert!(!Role::Viewer.allows(Action::Upload));
        assert!(Role::Render.allows(Action::Upload));
        assert!(Role::Render.allows(Action::CreateFolder));
        assert!(!Role::Render.allows(Action::Delete));
        assert!(Role::Editor.allows(Action::Move));
        assert!(Role::Admin.allows(Action::Delete));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    /// Seed 002's table: each action needs exactly this role, and every higher one may do it.
    #[test]
    fn each_action_needs_its_role_and_no_more() {
        let needs = [
            (Action::List, Role::Viewer),
            (Action::Upload, Role::Render),
            (Action::CreateFolder, Role::Render),
            (Action::Generate, Role::Render),
            (Action::Move, Role::Editor),
            (Action::Delete, Role::Editor),
            (Action::ManageWebhooks, Role::Manager),
        ];
        for (action, needed) in needs {
            assert_eq!(action.required_role(), needed, "{action:?}");
            for role in Role::ALL {
                assert_eq!(role.allows(action), role >= needed, "{role} {action:?}");
            }
        }
        let names: Vec<String> = Role::ALL.iter().map(Role::to_string).collect();
        assert_eq!(names, ["viewer", "render", "editor", "manager", "admin"]);
    }
}
