// Placeholder until the LinkConfig issue lands.
public enum LinkConfig {}
