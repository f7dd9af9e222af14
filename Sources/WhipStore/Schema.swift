import Foundation
import GRDB

/// The SQLite schema. Derived tables are rebuilt from `events`; nothing in them is ever edited by hand.
///
/// Keys are small integers where a 32-byte id would otherwise be repeated on every row (communities,
/// members, campaign partitions, and events by arrival `seq`), which keeps the file within about twice the
/// size of the raw signed events. The views (`campaign_totals`, `pledge_list`, `rejection_log`, `event_log`)
/// show every id in hex and every code as text.
enum Schema {
    static func migrator() -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);

                    -- Communities this node has joined, with the derived digest.
                    CREATE TABLE communities (
                        ref INTEGER PRIMARY KEY,
                        id BLOB NOT NULL UNIQUE,         -- 32-byte community public key
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
                    );

                    -- Public keys that appear as authors or collectors.
                    CREATE TABLE members (ref INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE);

                    -- One row per campaign id seen in events (whether or not a valid campaign.created exists),
                    -- with the state needed to update its digest in place. max_* is the last event applied.
                    CREATE TABLE partitions (
                        ref INTEGER PRIMARY KEY,
                        campaign BLOB NOT NULL UNIQUE,   -- the campaign id (id of its campaign.created)
                        community INTEGER NOT NULL,
                        digest BLOB,                     -- NULL until first derived
                        max_wall INTEGER NOT NULL DEFAULT 0,
                        max_counter INTEGER NOT NULL DEFAULT 0,
                        max_author BLOB NOT NULL DEFAULT x'',
                        max_id BLOB NOT NULL DEFAULT x'',
                        pledge_sum BLOB NOT NULL DEFAULT (zeroblob(32)),
                        pledge_count INTEGER NOT NULL DEFAULT 0,
                        status_sum BLOB NOT NULL DEFAULT (zeroblob(32)),
                        status_count INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX partitions_by_community ON partitions(community);

                    -- Every accepted event, exactly as received (raw = wire bytes).
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY,         -- local arrival order
                        id BLOB NOT NULL UNIQUE,         -- BLAKE2b-256 of the payload
                        community INTEGER NOT NULL,      -- communities.ref
                        author INTEGER NOT NULL,         -- members.ref of the signer
                        partition INTEGER,               -- partitions.ref; NULL for community-level kinds
                        kind INTEGER NOT NULL,
                        hlc_wall INTEGER NOT NULL,       -- ms since epoch
                        hlc_counter INTEGER NOT NULL,
                        raw BLOB NOT NULL,
                        received_at INTEGER NOT NULL
                    );
                    CREATE INDEX events_by_partition ON events(partition) WHERE partition IS NOT NULL;
                    CREATE INDEX events_community_level ON events(community) WHERE partition IS NULL;

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
                        seq INTEGER PRIMARY KEY,         -- events.seq
                        community INTEGER NOT NULL,
                        partition INTEGER,
                        code TEXT NOT NULL,
                        message TEXT NOT NULL
                    );
                    CREATE INDEX rule_rejections_by_partition ON rule_rejections(partition);

                    -- Derived: roles as they stand after every role event.
                    CREATE TABLE roles (
                        community INTEGER NOT NULL,
                        member BLOB NOT NULL,
                        role TEXT NOT NULL,
                        granted INTEGER NOT NULL,
                        by BLOB NOT NULL,
                        at_ms INTEGER NOT NULL,
                        expires_ms INTEGER,
                        PRIMARY KEY (community, member, role)
                    ) WITHOUT ROWID;

                    -- Derived: campaigns, keyed by their partition. Amounts are integer minor units (pence for GBP).
                    CREATE TABLE campaigns (
                        partition INTEGER PRIMARY KEY,   -- partitions.ref
                        community INTEGER NOT NULL,
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
                    );
                    CREATE INDEX campaigns_by_community ON campaigns(community);

                    -- Derived: reward tiers, keyed by the seq of their tier.added event.
                    CREATE TABLE tiers (
                        seq INTEGER PRIMARY KEY,
                        partition INTEGER NOT NULL,
                        title TEXT NOT NULL,
                        description TEXT,
                        minimum_minor INTEGER NOT NULL,
                        quantity_limit INTEGER,
                        active INTEGER NOT NULL,         -- counted pledges choosing this tier
                        claimed INTEGER NOT NULL,
                        waitlisted INTEGER NOT NULL
                    );
                    CREATE INDEX tiers_by_partition ON tiers(partition);

                    -- Derived: pledges, keyed by the seq of their pledge.made event.
                    -- status: 0 active, 1 late, 2 withdrawn, 3 rejected. channel: 1 in person, 2 online.
                    -- collected_method: 1 cash, 2 transfer.
                    CREATE TABLE pledges (
                        seq INTEGER PRIMARY KEY,
                        partition INTEGER NOT NULL,
                        author INTEGER NOT NULL,         -- members.ref
                        made_ms INTEGER NOT NULL,
                        made_counter INTEGER NOT NULL,
                        backer_name TEXT NOT NULL,
                        anonymous INTEGER NOT NULL,
                        amount_minor INTEGER NOT NULL,
                        tier INTEGER,                    -- tiers.seq
                        channel INTEGER NOT NULL,
                        status INTEGER NOT NULL,
                        waitlisted INTEGER NOT NULL,
                        collected_minor INTEGER NOT NULL,
                        collected_by INTEGER,            -- members.ref
                        collected_method INTEGER,
                        reject_reason TEXT,
                        contact BLOB                     -- sealed boxes, CBOR [[recipient, ciphertext]…]
                    );
                    CREATE INDEX pledges_by_partition ON pledges(partition, made_ms, made_counter);
                    CREATE INDEX pledges_by_tier ON pledges(tier, status) WHERE tier IS NOT NULL;

                    -- Readable views for the sqlite3 shell: hex ids, text codes, amounts in minor units.
                    CREATE VIEW campaign_totals AS
                    SELECT lower(hex(p.campaign)) AS campaign, c.title, c.currency, c.phase, c.model,
                           c.goal_minor, c.pledged_minor, c.collected_minor, c.backers,
                           datetime(c.closes_ms / 1000, 'unixepoch') AS closes_utc
                    FROM campaigns c JOIN partitions p ON p.ref = c.partition;

                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(e.id)) AS pledge, lower(hex(pt.campaign)) AS campaign, c.title AS campaign_title,
                           CASE WHEN p.anonymous THEN 'Anonymous' ELSE p.backer_name END AS backer,
                           p.amount_minor, c.currency,
                           CASE p.status WHEN 0 THEN 'active' WHEN 1 THEN 'late' WHEN 2 THEN 'withdrawn' ELSE 'rejected' END AS status,
                           p.waitlisted, p.collected_minor,
                           CASE p.collected_method WHEN 1 THEN 'cash' WHEN 2 THEN 'transfer' END AS collected_method,
                           CASE p.channel WHEN 1 THEN 'in-person' ELSE 'online' END AS channel,
                           datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, t.title AS tier
                    FROM pledges p
                    JOIN events e ON e.seq = p.seq
                    JOIN partitions pt ON pt.ref = p.partition
                    JOIN campaigns c ON c.partition = p.partition
                    LEFT JOIN tiers t ON t.seq = p.tier;

                    CREATE VIEW event_log AS
                    SELECT e.seq, lower(hex(e.id)) AS event, e.kind, lower(hex(m.key)) AS author,
                           lower(hex(p.campaign)) AS campaign, e.hlc_wall, e.hlc_counter,
                           strftime('%Y-%m-%dT%H:%M:%fZ', e.hlc_wall / 1000.0, 'unixepoch') AS stamped_utc,
                           datetime(e.received_at / 1000, 'unixepoch') AS received_utc,
                           r.code AS rejected_code
                    FROM events e JOIN members m ON m.ref = e.author
                    LEFT JOIN partitions p ON p.ref = e.partition
                    LEFT JOIN rule_rejections r ON r.seq = e.seq;

                    CREATE VIEW rejection_log AS
                    SELECT lower(hex(e.id)) AS event, r.code, r.message, 'rule' AS stage
                    FROM rule_rejections r JOIN events e ON e.seq = r.seq
                    UNION ALL
                    SELECT lower(hex(event_id)), code, message, CASE WHEN retry_at IS NULL THEN 'admission' ELSE 'held' END
                    FROM rejections;
                    """)
        }
        m.registerMigration("v2-peers") { db in
            try db.execute(
                sql: """
                    -- Peers the daemon keeps in step with, and how the last attempt went.
                    CREATE TABLE peers (
                        address TEXT PRIMARY KEY,        -- HOST:PORT
                        source TEXT NOT NULL,            -- cli (whipround peer add) or invite (a hub named in one)
                        added_at INTEGER NOT NULL,
                        last_attempt_ms INTEGER,
                        last_success_ms INTEGER,
                        last_error TEXT,
                        last_peer_id BLOB                -- member key the peer proved last time
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v3-peer-synced-seq") { db in
            // The highest local seq at the last successful sync: events after it are "stored since".
            try db.execute(sql: "ALTER TABLE peers ADD COLUMN synced_seq INTEGER")
        }
        m.registerMigration("v4-campaign-state") { db in
            // One state model in the CLI, its JSON and the views (PROTOCOL.md §7.5): `state` replaces the raw
            // phase, judged by SQLite's clock when the view is read; `closes_ms` is the exact deadline.
            // pledge_list says which pledges' money is due back.
            try db.execute(
                sql: """
                    DROP VIEW campaign_totals;
                    CREATE VIEW campaign_totals AS
                    SELECT lower(hex(p.campaign)) AS campaign, c.title, c.currency, \(Schema.stateSQL) AS state, c.model,
                           c.goal_minor, c.pledged_minor, c.collected_minor, c.backers,
                           datetime(c.closes_ms / 1000, 'unixepoch') AS closes_utc, c.closes_ms, c.time_zone
                    FROM campaigns c JOIN partitions p ON p.ref = c.partition;

                    DROP VIEW pledge_list;
                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(e.id)) AS pledge, lower(hex(pt.campaign)) AS campaign, c.title AS campaign_title,
                           CASE WHEN p.anonymous THEN 'Anonymous' ELSE p.backer_name END AS backer,
                           p.amount_minor, c.currency,
                           CASE p.status WHEN 0 THEN 'active' WHEN 1 THEN 'late' WHEN 2 THEN 'withdrawn' ELSE 'rejected' END AS status,
                           p.waitlisted, p.collected_minor,
                           CASE p.collected_method WHEN 1 THEN 'cash' WHEN 2 THEN 'transfer' END AS collected_method,
                           CASE p.channel WHEN 1 THEN 'in-person' ELSE 'online' END AS channel,
                           datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, t.title AS tier,
                           CASE WHEN p.status = 0 AND \(Schema.stateSQL) IN ('closed-unfunded', 'cancelled')
                                THEN p.collected_minor ELSE 0 END AS refund_due_minor
                    FROM pledges p
                    JOIN events e ON e.seq = p.seq
                    JOIN partitions pt ON pt.ref = p.partition
                    JOIN campaigns c ON c.partition = p.partition
                    LEFT JOIN tiers t ON t.seq = p.tier;
                    """)
        }
        m.registerMigration("v5-personal") { db in
            // Version-2 pledges keep personal data in parts beside their events (PROTOCOL.md §6.35): erasable
            // without changing any event. A tombstone records an erased slot of a pledge and refuses its parts
            // for ever; it is not derived, so a rebuild keeps it.
            try db.execute(
                sql: """
                    CREATE TABLE parts (
                        event INTEGER NOT NULL,          -- events.seq of the event whose commitment the part opens
                        slot INTEGER NOT NULL,           -- 0 name, 1 contact, 2 Gift Aid declaration
                        pledge BLOB NOT NULL,            -- id of the pledge the event makes or revises
                        salt BLOB NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (event, slot)
                    ) WITHOUT ROWID;
                    CREATE INDEX parts_by_pledge ON parts(pledge, slot);

                    CREATE TABLE tombstones (
                        pledge BLOB NOT NULL,            -- pledge id
                        slot INTEGER NOT NULL,
                        erased_at INTEGER NOT NULL,      -- local ms when this node deleted the parts
                        PRIMARY KEY (pledge, slot)
                    ) WITHOUT ROWID;

                    -- Version-2 pledges: commitments (3 x 32 bytes, slot order), the event holding the current
                    -- name part, and the erased slots (bit 1 << slot). backer_name is '' and contact NULL for them.
                    ALTER TABLE pledges ADD COLUMN commitments BLOB;
                    ALTER TABLE pledges ADD COLUMN name_event INTEGER;
                    ALTER TABLE pledges ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;

                    DROP VIEW pledge_list;
                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(e.id)) AS pledge, lower(hex(pt.campaign)) AS campaign, c.title AS campaign_title,
                           \(Schema.backerSQL) AS backer,
                           p.amount_minor, c.currency,
                           CASE p.status WHEN 0 THEN 'active' WHEN 1 THEN 'late' WHEN 2 THEN 'withdrawn' ELSE 'rejected' END AS status,
                           p.waitlisted, p.collected_minor,
                           CASE p.collected_method WHEN 1 THEN 'cash' WHEN 2 THEN 'transfer' END AS collected_method,
                           CASE p.channel WHEN 1 THEN 'in-person' ELSE 'online' END AS channel,
                           datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, t.title AS tier,
                           CASE WHEN p.status = 0 AND \(Schema.stateSQL) IN ('closed-unfunded', 'cancelled')
                                THEN p.collected_minor ELSE 0 END AS refund_due_minor
                    FROM pledges p
                    JOIN events e ON e.seq = p.seq
                    JOIN partitions pt ON pt.ref = p.partition
                    JOIN campaigns c ON c.partition = p.partition
                    LEFT JOIN tiers t ON t.seq = p.tier;
                    """)
        }
        m.registerMigration("v6-match") { db in
            // Match funding (PROTOCOL.md §7.7): the campaign's match beside its crowd total, each offer, and each
            // active pledge's match from each accepted match-mode offer. Crowd plus match decides `state`.
            try db.execute(
                sql: """
                    ALTER TABLE campaigns ADD COLUMN matched_minor INTEGER NOT NULL DEFAULT 0;

                    -- Derived: match offers, keyed by the seq of their match.offered event.
                    -- mode: match or lump-sum. status: pending, open, withdrawn, conditions not met, settled, cancelled.
                    CREATE TABLE match_offers (
                        seq INTEGER PRIMARY KEY,
                        partition INTEGER NOT NULL,
                        funder BLOB NOT NULL,            -- the funder's member key
                        funder_name TEXT NOT NULL,
                        mode TEXT NOT NULL,
                        factor_num INTEGER,
                        factor_den INTEGER,
                        pledge_cap_minor INTEGER,
                        campaign_cap_minor INTEGER NOT NULL,
                        from_ms INTEGER,
                        until_ms INTEGER,
                        tier INTEGER,                    -- tiers.seq
                        channel INTEGER,
                        min_percent INTEGER NOT NULL,
                        min_backers INTEGER NOT NULL,
                        made_ms INTEGER NOT NULL,
                        accepted INTEGER NOT NULL,
                        withdrawn_ms INTEGER,
                        settlement_pages INTEGER,
                        settled_pages INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        matched_minor INTEGER NOT NULL
                    );
                    CREATE INDEX match_offers_by_partition ON match_offers(partition);

                    -- Derived: every active pledge's match from every accepted match-mode offer, with its status.
                    CREATE TABLE pledge_matches (
                        pledge INTEGER NOT NULL,         -- pledges.seq
                        offer INTEGER NOT NULL,          -- match_offers.seq
                        partition INTEGER NOT NULL,
                        matched_minor INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        PRIMARY KEY (pledge, offer)
                    ) WITHOUT ROWID;
                    CREATE INDEX pledge_matches_by_partition ON pledge_matches(partition);

                    DROP VIEW campaign_totals;
                    CREATE VIEW campaign_totals AS
                    SELECT lower(hex(p.campaign)) AS campaign, c.title, c.currency, \(Schema.stateSQLWithMatch) AS state, c.model,
                           c.goal_minor, c.pledged_minor, c.matched_minor, c.collected_minor, c.backers,
                           datetime(c.closes_ms / 1000, 'unixepoch') AS closes_utc, c.closes_ms, c.time_zone
                    FROM campaigns c JOIN partitions p ON p.ref = c.partition;

                    DROP VIEW pledge_list;
                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(e.id)) AS pledge, lower(hex(pt.campaign)) AS campaign, c.title AS campaign_title,
                           \(Schema.backerSQL) AS backer,
                           p.amount_minor, c.currency,
                           CASE p.status WHEN 0 THEN 'active' WHEN 1 THEN 'late' WHEN 2 THEN 'withdrawn' ELSE 'rejected' END AS status,
                           p.waitlisted, p.collected_minor,
                           CASE p.collected_method WHEN 1 THEN 'cash' WHEN 2 THEN 'transfer' END AS collected_method,
                           CASE p.channel WHEN 1 THEN 'in-person' ELSE 'online' END AS channel,
                           datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, t.title AS tier,
                           CASE WHEN p.status = 0 AND \(Schema.stateSQLWithMatch) IN ('closed-unfunded', 'cancelled')
                                THEN p.collected_minor ELSE 0 END AS refund_due_minor
                    FROM pledges p
                    JOIN events e ON e.seq = p.seq
                    JOIN partitions pt ON pt.ref = p.partition
                    JOIN campaigns c ON c.partition = p.partition
                    LEFT JOIN tiers t ON t.seq = p.tier;
                    """)
        }
        m.registerMigration("v7-giftaid") { db in
            // Gift Aid (issue 9): a tier's stated benefit value, and the claim that claimed a pledge (events.seq of
            // its giftaid.claimed, with that event's timestamp for the retention rule).
            try db.execute(
                sql: """
                    ALTER TABLE tiers ADD COLUMN benefit_minor INTEGER;
                    ALTER TABLE pledges ADD COLUMN giftaid_claim INTEGER;
                    ALTER TABLE pledges ADD COLUMN giftaid_claimed_ms INTEGER;
                    ALTER TABLE pledges ADD COLUMN giftaid_claimed_counter INTEGER;
                    """)
        }
        m.registerMigration("v8-held-parts") { db in
            // The personal parts of an event held for a future timestamp wait beside it and are admitted with it,
            // instead of being dropped as `part.no_event` (a bundle imported while its events are held would
            // otherwise lose them for good). Keyed by event id: a held event is not in `events`.
            try db.execute(
                sql: """
                    CREATE TABLE held_parts (
                        event_id BLOB NOT NULL,
                        slot INTEGER NOT NULL,
                        salt BLOB NOT NULL,
                        bytes BLOB NOT NULL,
                        PRIMARY KEY (event_id, slot)
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v9-funder-budget") { db in
            // A funder's stated budget per currency (funder.budget, PROTOCOL.md §6.44): its last applied one.
            try db.execute(
                sql: """
                    CREATE TABLE funder_budgets (
                        community INTEGER NOT NULL,
                        funder BLOB NOT NULL,            -- the funder's member key
                        currency TEXT NOT NULL,
                        amount_minor INTEGER NOT NULL,
                        seq INTEGER NOT NULL,            -- events.seq of the funder.budget in force
                        PRIMARY KEY (community, funder, currency)
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v10-giftaid-tags") { db in
            // Gift Aid claims name claim tags, not pledges (issue 9 follow-up): which pledge a tag is, only a
            // treasurer can tell by opening the declarations, so the per-pledge claim columns go and the claimed tags
            // and confirmations are kept per campaign. Derived: a rebuild rewrites them from the events.
            try db.execute(
                sql: """
                    ALTER TABLE pledges DROP COLUMN giftaid_claim;
                    ALTER TABLE pledges DROP COLUMN giftaid_claimed_ms;
                    ALTER TABLE pledges DROP COLUMN giftaid_claimed_counter;

                    -- Derived: every tag of every applied giftaid.claimed.
                    CREATE TABLE giftaid_claims (
                        tag BLOB NOT NULL,
                        claim INTEGER NOT NULL,          -- events.seq of the giftaid.claimed
                        partition INTEGER NOT NULL,
                        PRIMARY KEY (tag, partition)
                    ) WITHOUT ROWID;
                    CREATE INDEX giftaid_claims_by_partition ON giftaid_claims(partition);

                    -- Derived: the earliest confirmation date of each oral declaration's tag (giftaid.confirmed).
                    CREATE TABLE giftaid_confirmations (
                        tag BLOB NOT NULL,
                        partition INTEGER NOT NULL,
                        sent TEXT NOT NULL,              -- YYYY-MM-DD
                        PRIMARY KEY (tag, partition)
                    ) WITHOUT ROWID;

                    -- Payment method 3, contactless (protocol version 2).
                    DROP VIEW pledge_list;
                    CREATE VIEW pledge_list AS
                    SELECT lower(hex(e.id)) AS pledge, lower(hex(pt.campaign)) AS campaign, c.title AS campaign_title,
                           \(Schema.backerSQL) AS backer,
                           p.amount_minor, c.currency,
                           CASE p.status WHEN 0 THEN 'active' WHEN 1 THEN 'late' WHEN 2 THEN 'withdrawn' ELSE 'rejected' END AS status,
                           p.waitlisted, p.collected_minor,
                           CASE p.collected_method WHEN 1 THEN 'cash' WHEN 2 THEN 'transfer' WHEN 3 THEN 'contactless' END AS collected_method,
                           CASE p.channel WHEN 1 THEN 'in-person' ELSE 'online' END AS channel,
                           datetime(p.made_ms / 1000, 'unixepoch') AS made_utc, t.title AS tier,
                           CASE WHEN p.status = 0 AND \(Schema.stateSQLWithMatch) IN ('closed-unfunded', 'cancelled')
                                THEN p.collected_minor ELSE 0 END AS refund_due_minor
                    FROM pledges p
                    JOIN events e ON e.seq = p.seq
                    JOIN partitions pt ON pt.ref = p.partition
                    JOIN campaigns c ON c.partition = p.partition
                    LEFT JOIN tiers t ON t.seq = p.tier;
                    """)
        }
        m.registerMigration("v11-store-meta") { db in
            // The version of the derivation rules the derived tables were last computed with (`Store.derivationVersion`):
            // 0 here, so a replica written by an earlier release is re-derived once when it is opened.
            try db.execute(sql: "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID")
        }
        m.registerMigration("v12-desks") { db in
            // Pledge desks (issue 10): this node's own bookkeeping, never synced and never in the digest. Codes and
            // session tokens are stored only as BLAKE2b hashes, so a copy of the file cannot pair a phone.
            try db.execute(
                sql: """
                    CREATE TABLE desks (
                        id TEXT PRIMARY KEY, name TEXT NOT NULL, campaign BLOB NOT NULL, community BLOB NOT NULL,
                        opened INTEGER NOT NULL, until INTEGER, closed INTEGER);
                    CREATE UNIQUE INDEX desks_open_name ON desks(name) WHERE closed IS NULL;
                    CREATE TABLE desk_codes (
                        code_hash BLOB PRIMARY KEY, desk TEXT NOT NULL REFERENCES desks(id), expires INTEGER NOT NULL,
                        used INTEGER) WITHOUT ROWID;
                    CREATE TABLE desk_sessions (
                        token_hash BLOB PRIMARY KEY, desk TEXT NOT NULL REFERENCES desks(id), csrf TEXT NOT NULL,
                        created INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE desk_pledges (
                        desk TEXT NOT NULL REFERENCES desks(id), key TEXT NOT NULL, pledge BLOB NOT NULL, at INTEGER NOT NULL,
                        PRIMARY KEY (desk, key)) WITHOUT ROWID;
                    CREATE INDEX desk_pledges_at ON desk_pledges(desk, at);
                    """)
        }
        m.registerMigration("v13-updates") { db in
            // Campaign news (update.posted, protocol version 3, PROTOCOL.md §6.15). Derived: one row per applied update,
            // rewritten by every full derivation and rebuild. Replicas before this release cannot hold such events (a
            // version-2 node refuses the kind at decoding), so the table starts empty and nothing needs re-deriving.
            try db.execute(
                sql: """
                    CREATE TABLE updates (
                        seq INTEGER PRIMARY KEY,         -- events.seq of the update.posted
                        partition INTEGER NOT NULL,
                        author BLOB NOT NULL,            -- the author's 32-byte key
                        posted_ms INTEGER NOT NULL,
                        posted_counter INTEGER NOT NULL,
                        title TEXT NOT NULL,
                        text TEXT NOT NULL               -- Markdown source
                    );
                    CREATE INDEX updates_by_partition ON updates(partition, posted_ms, posted_counter);
                    """)
        }
        m.registerMigration("v14-console") { db in
            // The organiser console's sign-ins (issue 11): one-time links and pairing codes, and the sessions they
            // start. Local to this node, never synced; secrets are stored only as keyed BLAKE2b hashes.
            try db.execute(
                sql: """
                    CREATE TABLE console_logins (
                        secret_hash BLOB PRIMARY KEY, kind TEXT NOT NULL, expires INTEGER NOT NULL, used INTEGER) WITHOUT ROWID;
                    CREATE TABLE console_sessions (
                        token_hash BLOB PRIMARY KEY, csrf TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL)
                        WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v15-online-offers") { db in
            // Online offers (issue 11): what a visitor typed into a campaign's public form, kept only at the node that
            // received it until an organiser accepts it (a signed pledge then carries it) or declines it (the
            // personal fields are then deleted). Never synced, never in the digest.
            try db.execute(
                sql: """
                    CREATE TABLE online_campaigns (campaign BLOB PRIMARY KEY, enabled_at INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE online_offers (
                        reference TEXT PRIMARY KEY, campaign BLOB NOT NULL, received INTEGER NOT NULL,
                        name TEXT, anonymous INTEGER NOT NULL, email TEXT, amount_minor INTEGER NOT NULL, tier BLOB,
                        status TEXT NOT NULL, decided INTEGER, pledge BLOB) WITHOUT ROWID;
                    CREATE INDEX online_offers_by_campaign ON online_offers(campaign, status, received);
                    """)
        }
        return m
    }

    /// The name a pledge row `p` shows publicly: '(erased)', 'Anonymous' (asked for, or no name part), or the name.
    static let backerSQL = """
        (CASE WHEN p.commitments IS NULL THEN (CASE WHEN p.anonymous THEN 'Anonymous' ELSE p.backer_name END)
              WHEN p.erased & 1 THEN '(erased)'
              ELSE COALESCE((SELECT CAST(np.bytes AS TEXT) FROM parts np WHERE np.event = p.name_event AND np.slot = 0), 'Anonymous') END)
        """
    /// `stateSQL` once match funding counts towards the goal (v6-match): crowd plus match.
    static let stateSQLWithMatch = stateSQL.replacingOccurrences(of: "c.pledged_minor", with: "(c.pledged_minor + c.matched_minor)")

    /// A campaign's state (`CampaignStanding`) in SQL, for a row `c` of `campaigns`, at SQLite's clock.
    static let stateSQL = """
        (CASE WHEN c.phase IN ('draft', 'cancelled') THEN c.phase
              WHEN c.phase = 'live' AND c.closes_ms > CAST(strftime('%s', 'now') AS INTEGER) * 1000 THEN 'live'
              WHEN (c.model = 'all-or-nothing' AND c.pledged_minor >= c.goal_minor)
                   OR (c.model <> 'all-or-nothing' AND c.pledged_minor > 0) THEN 'closed-funded'
              ELSE 'closed-unfunded' END)
        """
}
