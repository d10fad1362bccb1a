//! User management: admins list, disable, re-enable, promote, demote and force a password
//! reset; everyone can sign out everywhere; closed registration admits invited people only.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use storeflow::ApiConfig;

use crate::*;

async fn login(api: &TestApi, email: &str, password: &str) -> Reply {
    api.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

fn id_of(user: &Value) -> String {
    user["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn admins_disable_and_enable_users_whose_tokens_stop_working_and_stores_stay() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("ops@example.com", "ops").await;
    let (alice, alice_token) = api.register("alice@example.com", "alice").await;
    let created = api
        .call(
            Method::POST,
            "/api/v1/stores",
            Some(&alice_token),
            Some(json!({ "name": "tea-house", "engine": "woocommerce" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text);
    let store = created.body["store"]["id"].as_str().expect("id").to_owned();

    let listed = api
        .call(Method::GET, "/api/v1/users?q=ALICE", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["users"][0]["email"], "alice@example.com");
    assert_eq!(listed.body["users"][0]["storeCount"], 1);
    assert_eq!(listed.body["users"][0]["isActive"], true);
    let forbidden = api
        .call(Method::GET, "/api/v1/users", Some(&alice_token), None)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let path = format!("/api/v1/users/{}", id_of(&alice));
    let disabled = api
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
    assert_eq!(disabled.body["user"]["isActive"], false);
    assert_eq!(disabled.body["sessionsRevoked"], true);
    // Her token no longer works; her password signs nobody in, and says why.
    let me = api
        .call(Method::GET, "/api/v1/auth/me", Some(&alice_token), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let refused = login(&api, "alice@example.com", "correct horse battery").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.code(), "ACCOUNT_DISABLED");
    assert_envelope(&refused);
    // Her store is untouched.
    let kept = api
        .call(
            Method::GET,
            &format!("/api/v1/stores/{store}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(kept.body["store"]["status"], "requested", "{}", kept.text);

    let enabled = api
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "isActive": true })),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(
        login(&api, "alice@example.com", "correct horse battery")
            .await
            .status,
        StatusCode::OK
    );
    let audit = api
        .call(
            Method::GET,
            "/api/v1/audit?category=security",
            Some(&admin),
            None,
        )
        .await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"user_disabled") && actions.contains(&"user_enabled"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn promotion_and_demotion_keep_an_operator_and_nobody_demotes_themselves() {
    let api = TestApi::start().await;
    let (ops, admin) = api.register("ops@example.com", "ops").await;
    let (bob, _) = api.register("bob@example.com", "bob").await;
    let own = format!("/api/v1/users/{}", id_of(&ops));
    for change in [json!({ "isActive": false }), json!({ "role": "tenant" })] {
        let refused = api
            .call(Method::PATCH, &own, Some(&admin), Some(change))
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert_eq!(refused.code(), "CANNOT_CHANGE_SELF");
    }
    let bob_path = format!("/api/v1/users/{}", id_of(&bob));
    let promoted = api
        .call(
            Method::PATCH,
            &bob_path,
            Some(&admin),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
    assert_eq!(promoted.body["user"]["role"], "admin");
    // Bob signs in again (his sessions ended) and, as an operator, demotes ops: allowed,
    // since Bob remains an active operator.
    let bob_login = login(&api, "bob@example.com", "correct horse battery").await;
    let bob_token = bob_login.body["token"].as_str().expect("token").to_owned();
    let demoted = api
        .call(
            Method::PATCH,
            &own,
            Some(&bob_token),
            Some(json!({ "role": "tenant" })),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
    // Now Bob is the last operator: nobody may demote or disable him, not even himself.
    let last = api
        .call(
            Method::PATCH,
            &bob_path,
            Some(&bob_token),
            Some(json!({ "role": "tenant" })),
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    let bad = api
        .call(
            Method::PATCH,
            &bob_path,
            Some(&bob_token),
            Some(json!({ "role": "root" })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_envelope(&bad);
    let missing = api
        .call(
            Method::PATCH,
            "/api/v1/users/00000000-0000-0000-0000-000000000000",
            Some(&bob_token),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let not_a_uuid = api
        .call(
            Method::PATCH,
            "/api/v1/users/nope",
            Some(&bob_token),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(not_a_uuid.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_forced_password_reset_ends_sessions_and_its_link_works_once() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("ops@example.com", "ops").await;
    let (carol, carol_token) = api.register("carol@example.com", "carol").await;
    let reset = api
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/password-reset", id_of(&carol)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.text);
    let path = reset.body["resetPath"]
        .as_str()
        .expect("resetPath")
        .to_owned();
    let token = path.split("token=").nth(1).expect("token").to_owned();
    assert_eq!(token.len(), 64);
    // The old password and the old session are gone.
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&carol_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&api, "carol@example.com", "correct horse battery")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The link is in no audit event.
    let audit = api
        .call(Method::GET, "/api/v1/audit", Some(&admin), None)
        .await;
    assert!(!audit.text.contains(&token));

    let short = api
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({ "token": token, "newPassword": "short" })),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let done = api
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({ "token": token, "newPassword": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let signed_in = done.body["token"].as_str().expect("token");
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(signed_in), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        login(&api, "carol@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
    let again = api
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({ "token": token, "newPassword": "yet another passphrase" })),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.code(), "INVALID_RESET_LINK");
    assert_envelope(&again);
}

#[tokio::test]
async fn signing_out_everywhere_revokes_every_token_of_the_caller_only() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("ops@example.com", "ops").await;
    let (_, dave) = api.register("dave@example.com", "dave").await;
    let second = login(&api, "dave@example.com", "correct horse battery").await;
    let second = second.body["token"].as_str().expect("token").to_owned();
    let out = api
        .call(Method::POST, "/api/v1/auth/logout-all", Some(&dave), None)
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    for token in [&dave, &second] {
        assert_eq!(
            api.call(Method::GET, "/api/v1/auth/me", Some(token), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api.call(Method::GET, "/api/v1/auth/me", Some(&admin), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn closed_registration_admits_only_invited_addresses_once() {
    let api = TestApi::with_config(ApiConfig {
        registration_open: false,
        ..ApiConfig::default()
    })
    .await;
    let health = api.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(health.body["registration"], "closed");
    let register = |email: &str, username: &str, invite: Option<&str>| {
        let mut body =
            json!({ "email": email, "username": username, "password": "correct horse battery" });
        if let Some(invite) = invite {
            body["inviteToken"] = json!(invite);
        }
        api.call(Method::POST, "/api/v1/auth/register", None, Some(body))
    };
    let closed = register("first@example.com", "first", None).await;
    assert_eq!(closed.status, StatusCode::FORBIDDEN, "{}", closed.text);
    assert_eq!(closed.code(), "REGISTRATION_CLOSED");
    assert_envelope(&closed);

    // An operator made on the command line invites people.
    create_operator(&api).await;
    let admin = login(&api, "root@example.com", "correct horse battery").await;
    let admin = admin.body["token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    let invite = api
        .call(
            Method::POST,
            "/api/v1/invites",
            Some(&admin),
            Some(json!({ "email": "Erin@Example.com", "role": "tenant" })),
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.text);
    let token = invite.body["invitePath"]
        .as_str()
        .expect("invitePath")
        .split("invite=")
        .nth(1)
        .expect("token")
        .to_owned();
    let pending = api
        .call(Method::GET, "/api/v1/invites", Some(&admin), None)
        .await;
    assert_eq!(pending.body["invites"][0]["email"], "erin@example.com");
    assert!(!pending.text.contains(&token), "the list never shows links");

    let other = register("mallory@example.com", "mallory", Some(&token)).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.code(), "INVITATION_FOR_ANOTHER_EMAIL");
    let erin = register("erin@example.com", "erin", Some(&token)).await;
    assert_eq!(erin.status, StatusCode::CREATED, "{}", erin.text);
    assert_eq!(erin.body["user"]["role"], "tenant");
    let reused = register("erin2@example.com", "erin2", Some(&token)).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.code(), "INVALID_INVITATION");
}

/// An operator as `storeflow users create-admin` makes one (registration is closed).
async fn create_operator(api: &TestApi) {
    let hash = storeflow::auth::hash_password("correct horse battery".to_owned())
        .await
        .expect("hash");
    sqlx::query(
        "INSERT INTO users (id, email, username, password_hash, role) \
         VALUES (gen_random_uuid(), 'root@example.com', 'root', $1, 'admin')",
    )
    .bind(hash)
    .execute(&api.pool)
    .await
    .expect("operator");
}
