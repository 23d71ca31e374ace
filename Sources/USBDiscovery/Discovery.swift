// Placeholder until the discovery issue lands.
public enum USBDiscovery {}
