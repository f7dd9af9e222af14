/// Range-based set reconciliation and the sync wire protocol.
public enum Sync {}
