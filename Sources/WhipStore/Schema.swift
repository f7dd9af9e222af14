import GRDB

/// The SQLite schema. Derived tables are rebuilt from `events`; nothing in them is ever edited by hand.
enum Schema {
    static func migrator() -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);

                    -- Communities this node has joined, with the derived digest.
                    CREATE TABLE communities (
                        id BLOB PRIMARY KEY,             -- 32-byte community public key
                        id_text TEXT NOT NULL,           -- printable wrc1… form
                        name TEXT NOT NULL,
                        network_key BLOB NOT NULL,       -- admits peers to the gossip network
                        hubs TEXT NOT NULL DEFAULT '',   -- comma-separated host:port
                        joined_at INTEGER NOT NULL,
                        event_count INTEGER NOT NULL DEFAULT 0,
                        fingerprint BLOB NOT NULL DEFAULT (zeroblob(32)),
                        authority_digest BLOB,
                        digest BLOB,
                        founder BLOB,
                        max_wall INTEGER NOT NULL DEFAULT 0,     -- newest event timestamp seen (HLC receive rule)
                        max_counter INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;

                    -- Every accepted event, exactly as received (raw = wire bytes).
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY,         -- local arrival order
                        id BLOB NOT NULL UNIQUE,         -- BLAKE2b-256 of the payload
                        community BLOB NOT NULL,
                        author BLOB NOT NULL,
                        kind INTEGER NOT NULL,
                        hlc_wall INTEGER NOT NULL,       -- ms since epoch
                        hlc_counter INTEGER NOT NULL,
                        campaign BLOB,                   -- partition; NULL for community-level kinds
                        raw BLOB NOT NULL,
                        received_at INTEGER NOT NULL
                    );
                    CREATE INDEX events_by_campaign ON events(campaign) WHERE campaign IS NOT NULL;
                    CREATE INDEX events_community_level ON events(community, kind) WHERE campaign IS NULL;

                    -- Events refused at the door (bad signature, malformed, unknown community…) and
                    -- events held because their timestamp is too far ahead (retry_at set).
                    CREATE TABLE rejections (
                        seq INTEGER PRIMARY KEY,
                        event_id BLOB,
                        community BLOB,
                        code TEXT NOT NULL,
                        message TEXT NOT NULL,
                        raw BLOB NOT NULL,
                        source TEXT NOT NULL,
                        received_at INTEGER NOT NULL,
                        retry_at INTEGER
                    );
                    CREATE INDEX rejections_retry ON rejections(retry_at) WHERE retry_at IS NOT NULL;

                    -- Derived: stored events that the rules did not apply, with the reason.
                    CREATE TABLE rule_rejections (
                        event_id BLOB PRIMARY KEY,
                        community BLOB NOT NULL,
                        campaign BLOB,
                        code TEXT NOT NULL,
                        message TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX rule_rejections_by_campaign ON rule_rejections(campaign);

                    -- Derived: roles as they stand after every role event.
                    CREATE TABLE roles (
                        community BLOB NOT NULL,
                        member BLOB NOT NULL,
                        role TEXT NOT NULL,
                        granted INTEGER NOT NULL,
                        by BLOB NOT NULL,
                        at_ms INTEGER NOT NULL,
                        expires_ms INTEGER,
                        PRIMARY KEY (community, member, role)
                    ) WITHOUT ROWID;

                    -- Derived: one row per campaign partition (a campaign id seen in events) with its digest.
                    -- max_* is the last event applied (replay order); the sums let the digest be updated in place.
                    CREATE TABLE partitions (
                        campaign BLOB PRIMARY KEY,
                        community BLOB NOT NULL,
                        digest BLOB NOT NULL,
                        max_wall INTEGER NOT NULL,
                        max_counter INTEGER NOT NULL,
                        max_author BLOB NOT NULL,
                        max_id BLOB NOT NULL,
                        pledge_sum BLOB NOT NULL,
                        pledge_count INTEGER NOT NULL,
                        status_sum BLOB NOT NULL,
                        status_count INTEGER NOT NULL
                    ) WITHOUT ROWID;

                    -- Derived: campaigns. Amounts are integer minor units (pence for GBP).
                    CREATE TABLE campaigns (
                        id BLOB PRIMARY KEY,
                        community BLOB NOT NULL,
                        title TEXT NOT NULL,
                        description TEXT NOT NULL,
                        goal_minor INTEGER NOT NULL,
                        currency TEXT NOT NULL,
                        minor_digits INTEGER NOT NULL,
                        model TEXT NOT NULL,
                        opens_ms INTEGER NOT NULL,
                        closes_ms INTEGER NOT NULL,
                        time_zone TEXT NOT NULL,
                        phase TEXT NOT NULL,
                        cancel_reason TEXT,
                        pledged_minor INTEGER NOT NULL,
                        collected_minor INTEGER NOT NULL,
                        backers INTEGER NOT NULL,
                        created_by BLOB NOT NULL,
                        created_ms INTEGER NOT NULL,
                        created_counter INTEGER NOT NULL,
                        organisers BLOB NOT NULL,        -- concatenated 32-byte keys
                        has_pledges INTEGER NOT NULL     -- goal, currency, model and deadline are frozen
                    ) WITHOUT ROWID;

                    -- Derived: reward tiers.
                    CREATE TABLE tiers (
                        id BLOB PRIMARY KEY,
                        campaign BLOB NOT NULL,
                        title TEXT NOT NULL,
                        description TEXT,
                        minimum_minor INTEGER NOT NULL,
                        quantity_limit INTEGER,
                        active INTEGER NOT NULL,         -- counted pledges choosing this tier
                        claimed INTEGER NOT NULL,
                        waitlisted INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX tiers_by_campaign ON tiers(campaign);

                    -- Derived: pledges. status: active, late, withdrawn, rejected.
                    CREATE TABLE pledges (
                        id BLOB PRIMARY KEY,
                        campaign BLOB NOT NULL,
                        author BLOB NOT NULL,
                        made_ms INTEGER NOT NULL,
                        made_counter INTEGER NOT NULL,
                        backer_name TEXT NOT NULL,
                        anonymous INTEGER NOT NULL,
                        amount_minor INTEGER NOT NULL,
                        tier BLOB,
                        channel TEXT NOT NULL,
                        status TEXT NOT NULL,
                        waitlisted INTEGER NOT NULL,
                        collected_minor INTEGER NOT NULL,
                        collected_by BLOB,
                        collected_method TEXT,
                        reject_reason TEXT,
                        contact BLOB                     -- sealed boxes, CBOR [[recipient, ciphertext]…]
                    ) WITHOUT ROWID;
                    CREATE INDEX pledges_by_campaign ON pledges(campaign, made_ms, made_counter);
                    CREATE INDEX pledges_by_tier ON pledges(tier, status) WHERE tier IS NOT NULL;

                    -- Readable views for the sqlite3 shell.
                    CREATE VIEW campaign_totals AS
                    SELECT lower(hex(id)) AS campaign, title, currency, phase, model,
                           goal_minor, pledged_minor, collected_minor, backers,
                           datetime(closes_ms / 1000, 'unixepoch') AS closes_utc
                    FROM campaigns;

                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(p.id)) AS pledge, lower(hex(p.campaign)) AS campaign, c.title AS campaign_title,
                           CASE WHEN p.anonymous THEN 'Anonymous' ELSE p.backer_name END AS backer,
                           p.amount_minor, c.currency, p.status, p.waitlisted, p.collected_minor, p.collected_method,
                           p.channel, datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, lower(hex(p.tier)) AS tier
                    FROM pledges p JOIN campaigns c ON c.id = p.campaign;

                    CREATE VIEW rejection_log AS
                    SELECT lower(hex(event_id)) AS event, code, message, 'rule' AS stage FROM rule_rejections
                    UNION ALL
                    SELECT lower(hex(event_id)), code, message, CASE WHEN retry_at IS NULL THEN 'admission' ELSE 'held' END
                    FROM rejections;
                    """)
        }
        return m
    }
}
