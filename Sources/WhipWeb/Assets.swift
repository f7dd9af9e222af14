/// The page assets compiled into the binary (SwiftPM's `embedInCode`), by file name.
enum Assets {
    /// Every asset's file name: the Mustache templates, then what `/static/{name}` serves.
    static let names = [
        "desk.mustache", "display.mustache", "home.mustache", "pair.mustache", "message.mustache", "campaign.mustache", "poster.mustache",
        "console-nav.mustache", "console-signin.mustache", "console-home.mustache", "console-campaign.mustache",
        "console-pledges.mustache", "console-health.mustache", "console-community.mustache", "console-giftaid.mustache", "offer.mustache",
        "desk.css", "public.css", "desk.js", "display.js", "console.css",
    ]

    /// The bytes of `name` (e.g. `desk.css`), or nil.
    static func bytes(_ name: String) -> [UInt8]? {
        switch name {
        case "desk.mustache": PackageResources.desk_mustache
        case "display.mustache": PackageResources.display_mustache
        case "home.mustache": PackageResources.home_mustache
        case "pair.mustache": PackageResources.pair_mustache
        case "message.mustache": PackageResources.message_mustache
        case "console-nav.mustache": PackageResources.console_nav_mustache
        case "console-signin.mustache": PackageResources.console_signin_mustache
        case "console-home.mustache": PackageResources.console_home_mustache
        case "console-campaign.mustache": PackageResources.console_campaign_mustache
        case "console-pledges.mustache": PackageResources.console_pledges_mustache
        case "console-health.mustache": PackageResources.console_health_mustache
        case "console-community.mustache": PackageResources.console_community_mustache
        case "console-giftaid.mustache": PackageResources.console_giftaid_mustache
        case "offer.mustache": PackageResources.offer_mustache
        case "console.css": PackageResources.console_css
        case "campaign.mustache": PackageResources.campaign_mustache
        case "poster.mustache": PackageResources.poster_mustache
        case "public.css": PackageResources.public_css
        case "desk.css": PackageResources.desk_css
        case "desk.js": PackageResources.desk_js
        case "display.js": PackageResources.display_js
        // Served at /api/v1/openapi.json, not under /static.
        case "openapi.json": PackageResources.openapi_json
        default: nil
        }
    }

    /// The text of `name` (every asset is UTF-8), or nil.
    static func text(_ name: String) -> String? {
        bytes(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every Mustache template, by name without its extension.
    static let templates: [String] = [
        "home", "pair", "desk", "display", "message", "campaign", "poster", "console-nav", "console-signin", "console-home",
        "console-campaign", "console-pledges", "console-health", "console-community", "console-giftaid", "offer",
    ]

    /// Templates included in others with `{{> name}}`: fragments, not pages.
    static let partials: Set<String> = ["console-nav"]

    /// Whether `name` may be served under `/static/` (styles, scripts, images; never templates or the API document).
    static func isStatic(_ name: String) -> Bool {
        name.hasSuffix(".css") || name.hasSuffix(".js") || name.hasSuffix(".svg") || name.hasSuffix(".png")
    }

    /// The Content-Type of a static file.
    static func contentType(_ name: String) -> String {
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".svg") { return "image/svg+xml" }
        if name.hasSuffix(".png") { return "image/png" }
        return "application/octet-stream"
    }
}
