// swift-tools-version:6.0
//
// qcm — a QMI connection manager for Quectel modems.
// No package dependencies: the toolchain only. The daemon targets (Base, QMICore,
// USBDiscovery, LinkConfig, DHCPClient, QCM) are Embedded-Swift-clean and
// reach libc only through CSystem; scripts/build-embedded builds them
// without the Swift runtime. Dependencies point one way:
// CSystem ← Base ← QMICore, USBDiscovery, LinkConfig, DHCPClient ← QCM.
import PackageDescription

let package = Package(
    name: "qcm",
    products: [
        .executable(name: "qcm", targets: ["QCM"]),
        .executable(name: "qmi-sim", targets: ["qmi-sim"]),
        .library(name: "QMICore", targets: ["QMICore"]),
        .library(name: "QMISim", targets: ["QMISim"]),
    ],
    targets: [
        .target(name: "CSystem"),
        .target(name: "Base", dependencies: ["CSystem"]),
        .target(name: "QMICore", dependencies: ["Base", "CSystem"]),
        .target(name: "USBDiscovery", dependencies: ["Base", "CSystem"]),
        .target(name: "LinkConfig", dependencies: ["Base", "CSystem"]),
        .target(name: "DHCPClient", dependencies: ["Base", "CSystem"]),
        .executableTarget(
            name: "QCM",
            dependencies: ["Base", "QMICore", "USBDiscovery", "LinkConfig", "DHCPClient", "CSystem"]),
        .target(name: "QMISim", dependencies: ["Base", "QMICore", "CSystem"]),
        .executableTarget(name: "qmi-sim", dependencies: ["QMISim", "Base", "QMICore", "CSystem"]),
        // libFuzzer entry point for the QMI and DHCP parsers (README: "Fuzzing"); a corpus replayer otherwise.
        .executableTarget(name: "qcm-fuzz", dependencies: ["Base", "QMICore", "DHCPClient"]),
        .target(name: "TestSupport", dependencies: ["Base", "CSystem", "QMISim", "DHCPClient"], path: "Tests/TestSupport"),
        .testTarget(name: "BaseTests", dependencies: ["Base", "CSystem"]),
        .testTarget(name: "QMICoreTests", dependencies: ["Base", "QMICore", "CSystem"], exclude: ["Fixtures"]),
        .testTarget(name: "USBDiscoveryTests", dependencies: ["Base", "USBDiscovery"]),
        .testTarget(name: "QMISimTests", dependencies: ["TestSupport", "QMISim", "Base", "QMICore", "CSystem", "USBDiscovery"]),
        .testTarget(name: "LinkConfigTests", dependencies: ["TestSupport", "LinkConfig", "Base", "CSystem"]),
        .testTarget(name: "DHCPClientTests", dependencies: ["TestSupport", "DHCPClient", "LinkConfig", "Base", "CSystem"]),
        .testTarget(name: "QCMTests", dependencies: ["TestSupport", "QCM", "QMISim", "Base", "QMICore", "CSystem"]),
    ],
    swiftLanguageModes: [.v5]
)
