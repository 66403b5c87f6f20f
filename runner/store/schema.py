"""The schema: migrations (PRAGMA user_version counts them) and the upserts that keep rollups in step."""

from __future__ import annotations

# Each entry moves the schema one version forward; PRAGMA user_version records where
# a file stands, so old databases upgrade in place and nothing is rewritten twice.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'sweep',
        parent_run_id INTEGER,
        spec TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued','running','finished','failed','crashed','cancelled')),
        source TEXT NOT NULL DEFAULT 'runner' CHECK (source IN ('runner','upload','api')),
        group_id INTEGER REFERENCES groups(id),
        parent_id INTEGER REFERENCES runs(id),
        config TEXT NOT NULL DEFAULT '{}',
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        pid INTEGER,
        host TEXT,
        heartbeat REAL,
        device TEXT,
        progress REAL NOT NULL DEFAULT 0,
        last_step INTEGER,
        error TEXT
    );
    CREATE INDEX runs_group ON runs(group_id);
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL,
        step INTEGER NOT NULL,
        epoch REAL,
        name TEXT NOT NULL,
        value REAL,
        wall_time REAL NOT NULL
    );
    CREATE INDEX metrics_run_name_step ON metrics(run_id, name, step);
    """,
    # Chart reads bounded by the screen, not the run: see runner/rollup.py.
    """
    CREATE TABLE metric_rollups (
        run_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        width INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        n INTEGER NOT NULL,
        n_nan INTEGER NOT NULL,
        min_step INTEGER,
        min_value REAL,
        max_step INTEGER,
        max_value REAL,
        nan_step INTEGER,
        PRIMARY KEY (run_id, name, width, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE metric_stats (
        run_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        n INTEGER NOT NULL,
        first_step INTEGER NOT NULL,
        last_step INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    INSERT INTO metric_stats
        SELECT run_id, name, COUNT(*), MIN(step), MAX(step) FROM metrics GROUP BY run_id, name;
    """,
    # The scheduler lock: one row at most, the process that starts queued runs for every
    # browser session and CLI; another may take over only when that one is dead or stale.
    """
    CREATE TABLE scheduler (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        heartbeat REAL NOT NULL,
        started_at REAL NOT NULL
    );
    CREATE INDEX groups_parent ON groups(parent_run_id);
    """,
    # Run lifecycle and management: 'stalled' (alive, heartbeat late), 'stopped' (ended by
    # the doctor on a finding), source 'script' (a registered user script), the pid's start
    # time (a reused pid is not the run), a note, archiving, tags; registered user scripts.
    # SQLite cannot alter a CHECK, so the runs table is rebuilt with its rows.
    """
    CREATE TABLE runs_new (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued','running','stalled','finished','failed','crashed','cancelled','stopped')),
        source TEXT NOT NULL DEFAULT 'runner' CHECK (source IN ('runner','upload','api','script')),
        group_id INTEGER REFERENCES groups(id),
        parent_id INTEGER REFERENCES runs(id),
        config TEXT NOT NULL DEFAULT '{}',
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        pid INTEGER,
        host TEXT,
        heartbeat REAL,
        device TEXT,
        progress REAL NOT NULL DEFAULT 0,
        last_step INTEGER,
        error TEXT,
        pid_started REAL,
        note TEXT NOT NULL DEFAULT '',
        archived INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO runs_new (id, name, status, source, group_id, parent_id, config, meta, created_at, started_at,
                          ended_at, pid, host, heartbeat, device, progress, last_step, error)
        SELECT id, name, status, source, group_id, parent_id, config, meta, created_at, started_at,
               ended_at, pid, host, heartbeat, device, progress, last_step, error FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_group ON runs(group_id);
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE run_tags (
        run_id INTEGER NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (run_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX run_tags_tag ON run_tags(tag);
    CREATE TABLE scripts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        interpreter TEXT NOT NULL,
        cwd TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '[]',
        config TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    """,
    # One run per many-process job (runner/ranks.py): rank 0 creates the run with the job's key, the
    # other ranks find it by that key. Unique, so a job can never hold two runs (NULLs do not clash).
    """
    ALTER TABLE runs ADD COLUMN job_key TEXT;
    CREATE UNIQUE INDEX runs_job_key ON runs(job_key);
    """,
    # Alerts (runner/alerts.py): the database's own settings (the webhook, the dashboard's address for
    # links), and one row per alert a run has had, keyed so that two processes watching the same run
    # (the run's own and the dashboard's reconcile) can never both send it.
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE alerts_sent (
        run_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    """,
)

# Merge a batch's bucket summary into what is stored: counts add up, extremes compete.
# In an UPSERT every expression sees the row as it was, so the order of assignments is free.
_UPSERT_ROLLUP = """
INSERT INTO metric_rollups (run_id, name, width, bucket, n, n_nan, min_step, min_value, max_step, max_value,
                            nan_step)
VALUES (?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (run_id, name, width, bucket) DO UPDATE SET
    n = n + excluded.n,
    n_nan = n_nan + excluded.n_nan,
    min_step = CASE WHEN min_value IS NULL OR excluded.min_value < min_value THEN excluded.min_step ELSE min_step END,
    min_value = CASE WHEN min_value IS NULL OR excluded.min_value < min_value
                THEN excluded.min_value ELSE min_value END,
    max_step = CASE WHEN max_value IS NULL OR excluded.max_value > max_value THEN excluded.max_step ELSE max_step END,
    max_value = CASE WHEN max_value IS NULL OR excluded.max_value > max_value
                THEN excluded.max_value ELSE max_value END,
    nan_step = CASE WHEN nan_step IS NULL OR excluded.nan_step < nan_step THEN excluded.nan_step ELSE nan_step END
"""
_UPSERT_STATS = """
INSERT INTO metric_stats (run_id, name, n, first_step, last_step) VALUES (?,?,?,?,?)
ON CONFLICT (run_id, name) DO UPDATE SET
    n = n + excluded.n,
    first_step = MIN(first_step, excluded.first_step),
    last_step = MAX(last_step, excluded.last_step)
"""
