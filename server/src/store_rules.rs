//! What a store may be called and how it is identified: names are DNS labels (they become
//! hostnames and Kubernetes names), some are reserved, some are refused.

use serde_json::{Value, json};

/// Names that would collide with platform hosts or read as official.
pub const RESERVED_NAMES: &[&str] = &[
    "admin",
    "api",
    "www",
    "app",
    "mail",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "ssh",
    "git",
    "svn",
    "test",
    "staging",
    "prod",
    "production",
    "dev",
    "development",
    "beta",
    "alpha",
    "demo",
    "preview",
    "internal",
    "status",
    "health",
    "metrics",
    "monitor",
    "logs",
    "audit",
    "kubernetes",
    "k8s",
    "kube",
    "helm",
    "docker",
    "registry",
    "postgres",
    "mysql",
    "redis",
    "mongo",
    "database",
    "db",
    "store",
    "stores",
    "default",
    "system",
    "root",
    "null",
    "undefined",
    "login",
    "register",
    "auth",
    "oauth",
    "sso",
    "cdn",
    "static",
    "assets",
    "public",
    "private",
    "config",
    "settings",
];

/// Words a store name may not contain (matched as substrings).
pub const BLOCKED_WORDS: &[&str] = &[
    "fuck",
    "shit",
    "bitch",
    "bastard",
    "cunt",
    "whore",
    "slut",
    "nigger",
    "nigga",
    "faggot",
    "retard",
    "porn",
    "xxx",
    "rape",
    "pedo",
    "nazi",
    "hitler",
    "terrorist",
    "cocaine",
    "heroin",
];

/// Every problem with `name`, as `{field, message}` details (empty when it is acceptable).
pub fn name_problems(name: &str) -> Vec<Value> {
    let mut problems = Vec::new();
    let mut add = |message: &str| problems.push(json!({ "field": "name", "message": message }));
    let length = name.chars().count();
    if length < 3 {
        add("Store name must be at least 3 characters.");
    } else if length > 63 {
        add("Store name must be at most 63 characters (DNS label limit).");
    }
    let shape_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !shape_ok {
        add(
            "Store name must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen.",
        );
    }
    if RESERVED_NAMES.contains(&name) {
        add("This store name is reserved; choose another.");
    }
    if BLOCKED_WORDS.iter().any(|word| name.contains(word)) {
        add("Store name contains inappropriate language.");
    }
    problems
}

/// A new store id: `store-` and 8 hex digits (also its namespace and release name).
pub fn new_store_id() -> String {
    let bytes: [u8; 4] = rand::random();
    format!(
        "store-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// What [`is_store_id`] accepts, as a regular expression (the OpenAPI document's).
pub const STORE_ID_PATTERN: &str = "^store-[0-9a-f]{8}$";

/// Whether `id` has the shape of a store id (checked before any query).
pub fn is_store_id(id: &str) -> bool {
    id.len() == 14
        && id.starts_with("store-")
        && id[6..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_pass_and_everything_else_says_why() {
        assert!(name_problems("my-shop-2").is_empty());
        assert!(name_problems("abc").is_empty());
        let too_short = name_problems("ab");
        assert!(
            too_short[0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("at least 3")
        );
        assert_eq!(name_problems(&"a".repeat(64)).len(), 1);
        for bad in ["-shop", "shop-", "sh--op", "Shop", "shop_1", "shöp"] {
            assert!(!name_problems(bad).is_empty(), "{bad} must be refused");
        }
        assert!(
            name_problems("admin")[0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("reserved")
        );
        assert!(name_problems("best-porn-shop").iter().any(|p| {
            p["message"]
                .as_str()
                .unwrap_or("")
                .contains("inappropriate")
        }));
    }

    #[test]
    fn store_ids_have_one_shape() {
        let id = new_store_id();
        assert!(is_store_id(&id), "{id}");
        for bad in [
            "store-1234567",
            "store-123456789",
            "store-ABCDEF12",
            "shop-12345678",
            "store-1234567g",
        ] {
            assert!(!is_store_id(bad), "{bad}");
        }
    }
}
