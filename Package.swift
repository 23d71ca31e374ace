// swift-tools-version:6.0
//
// qcm — a QMI connection manager for Quectel modems.
// No package dependencies: the toolchain only. The daemon targets (QMICore,
// USBDiscovery, LinkConfig, DHCPClient, QCM) are Embedded-Swift-clean and
// reach libc only through CSystem; scripts/build-embedded builds them
// without the Swift runtime.
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
        .target(name: "QMICore", dependencies: ["CSystem"]),
        .target(name: "USBDiscovery", dependencies: ["CSystem"]),
        .target(name: "LinkConfig", dependencies: ["CSystem"]),
        .target(name: "DHCPClient", dependencies: ["CSystem"]),
        .executableTarget(
            name: "QCM",
            dependencies: ["QMICore", "USBDiscovery", "LinkConfig", "DHCPClient", "CSystem"]),
        .target(name: "QMISim", dependencies: ["QMICore", "CSystem"]),
        .executableTarget(name: "qmi-sim", dependencies: ["QMISim", "QMICore", "CSystem"]),
        // libFuzzer entry point for the QMI and DHCP parsers (README: "Fuzzing"); a corpus replayer otherwise.
        .executableTarget(name: "qcm-fuzz", dependencies: ["QMICore", "DHCPClient"]),
        .target(name: "TestSupport", dependencies: ["CSystem", "QMISim"], path: "Tests/TestSupport"),
        .testTarget(name: "QMICoreTests", dependencies: ["QMICore", "CSystem"], exclude: ["Fixtures"]),
        .testTarget(name: "USBDiscoveryTests", dependencies: ["USBDiscovery"]),
        .testTarget(name: "QMISimTests", dependencies: ["TestSupport", "QMISim", "QMICore", "CSystem", "USBDiscovery"]),
        .testTarget(name: "LinkConfigTests", dependencies: ["TestSupport", "LinkConfig", "CSystem"]),
        .testTarget(name: "DHCPClientTests", dependencies: ["TestSupport", "DHCPClient", "LinkConfig", "CSystem"]),
        .testTarget(name: "QCMTests", dependencies: ["TestSupport", "QCM", "QMISim", "QMICore", "CSystem"]),
    ],
    swiftLanguageModes: [.v5]
)
