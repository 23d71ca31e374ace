// Placeholder until the DHCP issue lands.
public enum DHCPClient {}
