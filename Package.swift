// swift-tools-version:6.2
import PackageDescription

// Dependencies point one way (docs/ARCHITECTURE.md §2 draws the same graph):
//   CSodium -> WhipCrypto -> WhipCore (domain, rules, canonical encoding; no I/O)
//   CSodium, WhipCrypto -> WhipNoise (the Noise handshake; its NoiseCrypto.swift is its only libsodium caller)
//   WhipCore, WhipNoise -> WhipSync (pure protocol: session messages, handshake, reconciliation)
//   WhipCore -> WhipStore (SQLite via GRDB) -> WhipNode (the application API: a node's data directory)
//   WhipNode, WhipSync -> WhipNet (sync over TCP with SwiftNIO: framing, sessions, the Exchange, one-shot sync)
//   CQRencode, WhipCore -> WhipQR (QR codes from Debian's libqrencode: terminal blocks and SVG)
//   WhipNode, WhipQR, Ink -> WhipWeb (the desk, console and public pages with Hummingbird; through the application API,
//     never GRDB; WhipQR draws the desks' and the poster's QR codes; Ink parses the Markdown of stories and updates,
//     which Markdown.swift sanitises)
//   WhipNet, WhipWeb -> WhipDaemon (services in one ServiceGroup, configuration, metrics endpoint)
//   WhipDaemon -> WhipBench (benchmarks only) ; everything (WhipQR and WhipWeb too) -> whipround (the thin CLI)
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Whipround",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "whipround", targets: ["whipround"]),
        .library(name: "WhipCore", targets: ["WhipCore"]),
        .library(name: "WhipStore", targets: ["WhipStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CQRencode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]
        ),
        // glibc's malloc.h (malloc_trim), for handing start-up memory back to the system.
        .systemLibrary(name: "CMalloc"),
        .target(name: "WhipCrypto", dependencies: ["CSodium"], swiftSettings: strict),
        .target(name: "WhipCore", dependencies: ["WhipCrypto"], swiftSettings: strict),
        .target(name: "WhipNoise", dependencies: ["CSodium", "WhipCrypto"], swiftSettings: strict),
        .target(name: "WhipSync", dependencies: ["WhipCore", "WhipCrypto", "WhipNoise"], swiftSettings: strict),
        .target(
            name: "WhipStore",
            dependencies: [
                "WhipCore", "WhipCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WhipNode",
            dependencies: [
                "WhipCore", "WhipCrypto", "WhipStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WhipNet",
            dependencies: [
                "WhipNode", "WhipStore", "WhipCore", "WhipCrypto", "WhipNoise", "WhipSync", "CMalloc",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(name: "WhipQR", dependencies: ["CQRencode", "WhipCore"], swiftSettings: strict),
        .target(
            name: "WhipWeb",
            dependencies: [
                "WhipNode", "WhipStore", "WhipCore", "WhipQR",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Ink", package: "Ink"),
            ],
            // Pages, styles and scripts are compiled into the binary: the one-file install needs no bundle beside it.
            resources: [.embedInCode("Assets")],
            swiftSettings: strict
        ),
        .target(
            name: "WhipDaemon",
            dependencies: [
                "WhipNet", "WhipNode", "WhipCore", "WhipCrypto", "WhipNoise", "WhipSync", "WhipWeb",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WhipBench",
            dependencies: [
                "WhipDaemon", "WhipNet", "WhipNode", "WhipStore", "WhipCore", "WhipCrypto", "WhipSync", "WhipWeb",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "whipround",
            dependencies: [
                "WhipNode", "WhipCore", "WhipStore", "WhipCrypto", "WhipNet", "WhipDaemon", "WhipBench", "WhipSync", "WhipWeb", "WhipQR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "WhipTestSupport", dependencies: ["WhipCore", "WhipCrypto"], swiftSettings: strict),
        .testTarget(name: "WhipCryptoTests", dependencies: ["WhipCrypto", "WhipTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "WhipCoreTests",
            dependencies: ["WhipCore", "WhipCrypto", "WhipTestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WhipNoiseTests",
            dependencies: ["WhipNoise", "WhipCrypto"],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(name: "WhipSyncTests", dependencies: ["WhipSync", "WhipCore", "WhipCrypto", "WhipTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "WhipStoreTests",
            dependencies: ["WhipStore", "WhipCore", "WhipCrypto", "WhipTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WhipDaemonTests",
            dependencies: [
                "WhipDaemon", "WhipNet", "WhipBench", "WhipNode", "WhipStore", "WhipCore", "WhipCrypto", "WhipNoise", "WhipSync", "WhipTestSupport",
                "WhipWeb",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "WhipQRTests", dependencies: ["WhipQR"], swiftSettings: strict),
        .testTarget(
            name: "WhipWebTests",
            dependencies: [
                "WhipWeb", "WhipNode", "WhipStore", "WhipCore", "WhipCrypto", "WhipTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "WhipBenchTests", dependencies: ["WhipBench", "WhipSync"], swiftSettings: strict),
        .testTarget(
            name: "WhipCLITests",
            dependencies: ["whipround", "WhipBench", "WhipNet", "WhipNode", "WhipStore", "WhipCore", "WhipCrypto", "WhipTestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
