//! Row-level security: a tenant-scoped query that forgets its owner filter still sees only
//! the tenant's own stores; names are unique among a tenant's live stores only.

use storeflow::store_rules::new_store_id;
use storeflow::tenancy::{self, Scope};
use uuid::Uuid;

use crate::*;

async fn insert_store(api: &TestApi, owner: Uuid, name: &str) -> String {
    let id = new_store_id();
    sqlx::query("INSERT INTO stores (id, owner_id, name, engine, namespace) VALUES ($1, $2, $3, 'medusa', $1)")
        .bind(&id)
        .bind(owner)
        .bind(name)
        .execute(&api.pool)
        .await
        .expect("store row");
    id
}

fn user_id(user: &serde_json::Value) -> Uuid {
    user["id"].as_str().expect("id").parse().expect("uuid")
}

#[tokio::test]
async fn a_query_without_its_tenant_filter_still_sees_only_the_tenants_stores() {
    let api = TestApi::start().await;
    let (admin, _) = api.register("admin@example.com", "admin").await;
    let (alice, _) = api.register("alice@example.com", "alice").await;
    let (bob, _) = api.register("bob@example.com", "bob").await;
    let (alice, bob) = (user_id(&alice), user_id(&bob));
    let alice_store = insert_store(&api, alice, "alice-shop").await;
    insert_store(&api, alice, "alice-outlet").await;
    let bob_store = insert_store(&api, bob, "bob-shop").await;

    let mut tx = tenancy::begin(&api.pool, Scope::Tenant(bob))
        .await
        .expect("scoped");
    let visible: Vec<(String,)> = sqlx::query_as("SELECT id FROM stores")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(
        visible,
        vec![(bob_store.clone(),)],
        "no owner filter, yet only bob's store"
    );
    let foreign: Option<(String,)> = sqlx::query_as("SELECT id FROM stores WHERE id = $1")
        .bind(&alice_store)
        .fetch_optional(&mut *tx)
        .await
        .expect("select");
    assert!(
        foreign.is_none(),
        "another tenant's store does not exist for bob"
    );
    let updated = sqlx::query("UPDATE stores SET name = 'stolen' WHERE id = $1")
        .bind(&alice_store)
        .execute(&mut *tx)
        .await
        .expect("update runs")
        .rows_affected();
    assert_eq!(updated, 0, "bob cannot touch alice's store");
    let planted = sqlx::query("INSERT INTO stores (id, owner_id, name, engine, namespace) VALUES ($1, $2, 'planted', 'medusa', $1)")
        .bind(new_store_id())
        .bind(alice)
        .execute(&mut *tx)
        .await;
    assert!(planted.is_err(), "bob cannot create a store owned by alice");
    drop(tx);

    let mut all = tenancy::begin(&api.pool, Scope::All)
        .await
        .expect("admin scope");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM stores")
        .fetch_one(&mut *all)
        .await
        .expect("count");
    assert_eq!(count, 3);
    drop(all);

    // The tenant role with no identity set sees nothing at all.
    let mut anonymous = api.pool.begin().await.expect("tx");
    sqlx::query("SET LOCAL ROLE storeflow_tenant")
        .execute(&mut *anonymous)
        .await
        .expect("role");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM stores")
        .fetch_one(&mut *anonymous)
        .await
        .expect("count");
    assert_eq!(count, 0);
    let _ = admin;
}

#[tokio::test]
async fn a_name_is_taken_only_while_its_store_is_not_deleted() {
    let api = TestApi::start().await;
    let (alice, _) = api.register("alice@example.com", "alice").await;
    let (bob, _) = api.register("bob@example.com", "bob").await;
    let (alice, bob) = (user_id(&alice), user_id(&bob));
    let first = insert_store(&api, alice, "shop").await;
    insert_store(&api, bob, "shop").await; // another tenant may use the same name
    let again = sqlx::query("INSERT INTO stores (id, owner_id, name, engine, namespace) VALUES ($1, $2, 'shop', 'medusa', $1)")
        .bind(new_store_id())
        .bind(alice)
        .execute(&api.pool)
        .await;
    let err = again.expect_err("a live store already has the name");
    assert!(
        err.as_database_error()
            .is_some_and(|e| e.constraint() == Some("stores_live_name"))
    );
    sqlx::query("UPDATE stores SET status = 'deleted', deleted_at = now() WHERE id = $1")
        .bind(&first)
        .execute(&api.pool)
        .await
        .expect("delete");
    insert_store(&api, alice, "shop").await;
}

/// What the next borrower of the only pooled connection finds: (inside a transaction
/// block, current role, identity setting).
async fn session_state(pool: &sqlx::PgPool) -> (bool, String, String) {
    use sqlx::Row;
    // The simple query protocol: one message, so outside a transaction block the statement
    // and its implicit transaction start at the same instant; inside one, the transaction
    // started at its BEGIN, earlier.
    let row = sqlx::raw_sql(
        "SELECT (transaction_timestamp() <> statement_timestamp())::text, current_user::text, \
                coalesce(current_setting('storeflow.user_id', true), '')",
    )
    .fetch_one(pool)
    .await
    .expect("the next borrower's query runs");
    let in_transaction: String = row.get(0);
    (in_transaction == "true", row.get(1), row.get(2))
}

#[tokio::test]
async fn a_tenant_transaction_abandoned_at_any_point_leaves_nothing_to_the_next_borrower() {
    // One connection, so the borrower after an abandoned request gets the very same session.
    let db = storeflow_testkit::database().await;
    let owner: (String,) = sqlx::query_as("SELECT current_user::text")
        .fetch_one(&db.pool(1).await)
        .await
        .expect("owner");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .expect("pool");
    let tenant = Uuid::now_v7();
    // Abandon the request after 0, 20, 40, … µs: within `BEGIN`'s round trip, between the
    // statements, inside a query, during the commit — as a client that goes away or a
    // request timeout would.
    for step in 0..150u64 {
        let after = std::time::Duration::from_micros(step * 20);
        let pool_for_request = pool.clone();
        let request = async move {
            let mut tx = tenancy::begin(&pool_for_request, Scope::Tenant(tenant)).await?;
            sqlx::query("SELECT count(*) FROM stores")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_sleep(0.001)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        // Timers have millisecond granularity; the BEGIN round trip is shorter than that.
        let deadline = std::time::Instant::now() + after;
        let cutoff = async {
            while std::time::Instant::now() < deadline {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            biased;
            _ = request => {}
            _ = cutoff => {}
        }
        let polls = format!("{after:?}");
        let (in_transaction, role, identity) = session_state(&pool).await;
        assert!(
            !in_transaction,
            "after abandoning at {polls}: the next borrower ran inside the abandoned transaction"
        );
        assert_eq!(role, owner.0, "after abandoning at {polls}: role leaked");
        assert_eq!(identity, "", "after abandoning at {polls}: identity leaked");
    }
}
