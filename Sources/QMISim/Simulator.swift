// Placeholder until the simulator issue lands.
import QMICore
public enum QMISimulator {}
