//! Copying an installation into another database (`doorway store copy`): SQLite → PostgreSQL to
//! outgrow one machine, or back. Every table, in foreign-key order, column by column by name,
//! in one transaction on the target, so a failed copy leaves the target as it was. It never
//! writes into a database that already holds data, and never reads what it copies (sealed keys,
//! hashes) beyond moving the bytes.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, PgConnection, Row, SqliteConnection};

use crate::{Pool, Store, StoreError};

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target already holds data: copying would mix two installations.
    #[error("the target database is not empty (table {0} has rows); copy into a fresh database")]
    TargetNotEmpty(String),
    /// The two databases' schemas differ (different Doorway versions).
    #[error("the databases' schemas differ: {0}")]
    SchemaMismatch(String),
}

impl From<sqlx::Error> for CopyError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

impl CopyReport {
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// The column types Doorway's migrations use, in either dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Bytes,
    Text,
}

impl Kind {
    fn parse(declared: &str) -> Option<Self> {
        match declared.to_ascii_lowercase().as_str() {
            "bigint" | "integer" | "int8" => Some(Self::Int),
            "boolean" | "bool" => Some(Self::Bool),
            "blob" | "bytea" => Some(Self::Bytes),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Text(String),
}

/// Reads column `$i` of `$row` as `$kind`, NULL included.
macro_rules! decode {
    ($row:expr, $i:expr, $kind:expr) => {{
        let value = match $kind {
            Kind::Int => $row.try_get::<Option<i64>, _>($i)?.map(Value::Int),
            Kind::Bool => $row.try_get::<Option<bool>, _>($i)?.map(Value::Bool),
            Kind::Bytes => $row.try_get::<Option<Vec<u8>>, _>($i)?.map(Value::Bytes),
            Kind::Text => $row.try_get::<Option<String>, _>($i)?.map(Value::Text),
        };
        value.unwrap_or(Value::Null)
    }};
}

/// Binds a batch's values, converted to the target column's type (SQLite stores booleans as
/// integers), with typed NULLs (PostgreSQL wants a type for every parameter).
macro_rules! bind_rows {
    ($query:expr, $rows:expr, $kinds:expr) => {{
        let mut query = $query;
        for row in $rows {
            for (value, kind) in row.iter().zip($kinds) {
                query = match (value, kind) {
                    (Value::Null, Kind::Int) => query.bind(None::<i64>),
                    (Value::Null, Kind::Bool) => query.bind(None::<bool>),
                    (Value::Null, Kind::Bytes) => query.bind(None::<Vec<u8>>),
                    (Value::Null, Kind::Text) => query.bind(None::<String>),
                    (Value::Int(n), Kind::Bool) => query.bind(*n != 0),
                    (Value::Bool(b), Kind::Int) => query.bind(i64::from(*b)),
                    (Value::Int(n), _) => query.bind(*n),
                    (Value::Bool(b), _) => query.bind(*b),
                    (Value::Bytes(bytes), _) => query.bind(bytes.clone()),
                    (Value::Text(text), _) => query.bind(text.clone()),
                };
            }
        }
        query
    }};
}

/// One table to copy: its columns as both databases name them, with each side's type.
struct TablePlan {
    name: String,
    columns: Vec<(String, Kind, Kind)>,
}

/// Rows per INSERT: well under both dialects' limits on bound parameters.
const MAX_PARAMS: usize = 30_000;
const MAX_ROWS: usize = 500;

impl Store {
    /// Copies every row of this store into `target`, which must be empty (freshly migrated).
    pub async fn copy_into(&self, target: &Store) -> Result<CopyReport, CopyError> {
        let plan = self.copy_plan(target).await?;
        let mut report = CopyReport::default();
        match &target.pool {
            Pool::Sqlite { writer, .. } => {
                let mut conn = writer.acquire().await?;
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for table in &plan {
                    let copied = self.copy_table(table, &mut Sink::Sqlite(&mut tx)).await?;
                    report.tables.push((table.name.clone(), copied));
                }
                tx.commit().await?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for table in &plan {
                    let copied = self.copy_table(table, &mut Sink::Postgres(&mut tx)).await?;
                    report.tables.push((table.name.clone(), copied));
                }
                tx.commit().await?;
            }
        }
        Ok(report)
    }

    /// The tables in foreign-key order, each with the columns both sides have; refuses
    /// schemas that differ and a target that holds data.
    async fn copy_plan(&self, target: &Store) -> Result<Vec<TablePlan>, CopyError> {
        let source_tables = self.tables_in_order().await?;
        let target_tables: BTreeSet<String> = target.tables_in_order().await?.into_iter().collect();
        let mut plan = Vec::new();
        for name in source_tables {
            if !target_tables.contains(&name) {
                return Err(CopyError::SchemaMismatch(format!("table {name} is missing from the target")));
            }
            let source_columns = self.columns(&name).await?;
            let target_columns: BTreeMap<String, Kind> = target.columns(&name).await?.into_iter().collect();
            if source_columns.len() != target_columns.len() {
                return Err(CopyError::SchemaMismatch(format!("table {name} has different columns")));
            }
            let mut columns = Vec::new();
            for (column, kind) in source_columns {
                let Some(to) = target_columns.get(&column) else {
                    return Err(CopyError::SchemaMismatch(format!(
                        "column {name}.{column} is missing from the target"
                    )));
                };
                columns.push((column, kind, *to));
            }
            if target.has_rows(&name).await? {
                return Err(CopyError::TargetNotEmpty(name));
            }
            plan.push(TablePlan { name, columns });
        }
        Ok(plan)
    }

    /// Doorway's tables (not the migration ledger), each after the tables it references.
    async fn tables_in_order(&self) -> Result<Vec<String>, CopyError> {
        let (tables, edges): (Vec<String>, Vec<(String, String)>) = match &self.pool {
            Pool::Sqlite { readers, .. } => {
                let mut conn = readers.acquire().await?;
                let tables = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                     AND name <> '_sqlx_migrations'",
                )
                .fetch_all(&mut *conn)
                .await?;
                let edges = sqlx::query_as(
                    "SELECT m.name, f.\"table\" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table'",
                )
                .fetch_all(&mut *conn)
                .await?;
                (tables, edges)
            }
            Pool::Postgres(pool) => {
                let tables = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
                     AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
                )
                .fetch_all(pool)
                .await?;
                let edges = sqlx::query_as(
                    "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint \
                     WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
                )
                .fetch_all(pool)
                .await?;
                (tables, edges)
            }
        };
        topological(tables, &edges)
    }

    async fn columns(&self, table: &str) -> Result<Vec<(String, Kind)>, CopyError> {
        let rows: Vec<(String, String)> = match &self.pool {
            Pool::Sqlite { readers, .. } => {
                let mut conn = readers.acquire().await?;
                sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&mut *conn)
                    .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter()
            .map(|(name, declared)| match Kind::parse(&declared) {
                Some(kind) => Ok((name, kind)),
                None => {
                    Err(CopyError::SchemaMismatch(format!("{table}.{name} has a type ({declared}) copy does not know")))
                }
            })
            .collect()
    }

    async fn has_rows(&self, table: &str) -> Result<bool, CopyError> {
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) AS probe", quote(table));
        let count: i64 = match &self.pool {
            Pool::Sqlite { readers, .. } => {
                let mut conn = readers.acquire().await?;
                sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *conn).await?
            }
            Pool::Postgres(pool) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await?,
        };
        Ok(count > 0)
    }

    /// Streams one table's rows into the sink in batches; returns how many were copied.
    async fn copy_table(&self, table: &TablePlan, sink: &mut Sink<'_>) -> Result<u64, CopyError> {
        let names: Vec<String> = table.columns.iter().map(|(name, _, _)| quote(name)).collect();
        let select = format!("SELECT {} FROM {}", names.join(", "), quote(&table.name));
        let source_kinds: Vec<Kind> = table.columns.iter().map(|(_, from, _)| *from).collect();
        let target_kinds: Vec<Kind> = table.columns.iter().map(|(_, _, to)| *to).collect();
        let batch_rows = (MAX_PARAMS / names.len().max(1)).clamp(1, MAX_ROWS);
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(batch_rows);
        let mut copied = 0u64;
        macro_rules! stream_rows {
            ($rows:expr) => {{
                let mut rows = $rows;
                while let Some(row) = rows.try_next().await? {
                    let mut values = Vec::with_capacity(source_kinds.len());
                    for (i, kind) in source_kinds.iter().enumerate() {
                        values.push(decode!(row, i, *kind));
                    }
                    batch.push(values);
                    if batch.len() == batch_rows {
                        copied += sink.insert(&table.name, &names, &target_kinds, &batch).await?;
                        batch.clear();
                    }
                }
            }};
        }
        match &self.pool {
            Pool::Sqlite { readers, .. } => {
                let mut conn = readers.acquire().await?;
                stream_rows!(sqlx::query(AssertSqlSafe(select)).fetch(&mut *conn));
            }
            Pool::Postgres(pool) => stream_rows!(sqlx::query(AssertSqlSafe(select)).fetch(pool)),
        }
        if !batch.is_empty() {
            copied += sink.insert(&table.name, &names, &target_kinds, &batch).await?;
        }
        Ok(copied)
    }
}

/// Where copied rows go: the target's open transaction.
enum Sink<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Sink<'_> {
    async fn insert(
        &mut self,
        table: &str,
        columns: &[String],
        kinds: &[Kind],
        rows: &[Vec<Value>],
    ) -> Result<u64, CopyError> {
        let mut placeholders = Vec::with_capacity(rows.len());
        let mut n = 0;
        for _ in rows {
            let row: Vec<String> = columns
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            placeholders.push(format!("({})", row.join(", ")));
        }
        let sql = format!("INSERT INTO {} ({}) VALUES {}", quote(table), columns.join(", "), placeholders.join(", "));
        let done = match self {
            Sink::Sqlite(conn) => {
                bind_rows!(sqlx::query(AssertSqlSafe(sql)), rows, kinds).execute(&mut **conn).await?.rows_affected()
            }
            Sink::Postgres(conn) => {
                bind_rows!(sqlx::query(AssertSqlSafe(sql)), rows, kinds).execute(&mut **conn).await?.rows_affected()
            }
        };
        Ok(done)
    }
}

/// An identifier as SQL text. Names come from the database's own catalogue.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Orders tables so each comes after every table it references (self-references aside);
/// ties alphabetical, so the order is the same on every run.
fn topological(tables: Vec<String>, edges: &[(String, String)]) -> Result<Vec<String>, CopyError> {
    let mut pending: BTreeMap<String, BTreeSet<String>> = tables.into_iter().map(|t| (t, BTreeSet::new())).collect();
    for (from, to) in edges {
        if from != to
            && pending.contains_key(to)
            && let Some(deps) = pending.get_mut(from)
        {
            deps.insert(to.clone());
        }
    }
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready: Vec<String> = pending.iter().filter(|(_, deps)| deps.is_empty()).map(|(t, _)| t.clone()).collect();
        if ready.is_empty() {
            return Err(CopyError::SchemaMismatch("the tables' foreign keys form a cycle".into()));
        }
        for table in ready {
            pending.remove(&table);
            for deps in pending.values_mut() {
                deps.remove(&table);
            }
            ordered.push(table);
        }
    }
    Ok(ordered)
}
