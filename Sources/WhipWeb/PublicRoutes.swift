import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WhipCore
import WhipNode
import WhipStore

extension WebServer {
    /// The public face of the published campaigns: safe to expose to the internet, whatever the bind address,
    /// and never showing desk or console data. Drafts and unknown ids are the same 404.
    static func addPublicRoutes(_ router: Router<WebContext>, node: Node, pages: Pages, hub: ProgressHub, cache: PageCache) {
        @Sendable func published(_ context: WebContext, names: Bool = true) async throws -> PublicCampaign? {
            guard let id = context.parameters.get("campaign").flatMap(EventID.init(hex:)) else { return nil }
            return try await PublicCampaign.load(node, id, names: names)
        }
        let bundles = BundleCache()
        router.get("/campaigns/:campaign") { request, context in
            let key = (context.parameters.get("campaign") ?? "") + " " + pages.baseURL(request)
            // Read before the data, so a change while it is read makes the next request render again.
            let mark = hub.currentMark
            if let mark, let body = cache.get(key, mark: mark, now: node.now) { return Pages.html(body) }
            guard let p = try await published(context) else { return Pages.notFound(pages) }
            guard let html = pages.campaignHTML(p, request: request) else { return pages.campaignPage(p, request: request) }
            let body = ByteBuffer(string: html)
            if let mark {
                let now = node.now
                let deadline = p.standing == .live ? p.row.closes : UInt64.max
                cache.put(key, mark: mark, expires: min(now + PageCache.maxAgeMs, deadline), body: body)
            }
            return Pages.html(body)
        }
        router.get("/campaigns/:campaign/card.svg") { _, context in
            guard let p = try await published(context, names: false) else { return Pages.notFound(pages) }
            return Response(
                status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8", .cacheControl: "max-age=60"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: Pages.cardSVG(p))))
        }
        router.get("/campaigns/:campaign/poster") { request, context in
            guard let p = try await published(context, names: false) else { return Pages.notFound(pages) }
            return pages.poster(p, request: request)
        }
        router.get("/campaigns/:campaign/bundle") { _, context in
            guard let id = context.parameters.get("campaign").flatMap(EventID.init(hex:)) else { return Pages.notFound(pages) }
            let result: Result<PublicBundle?, WhipError>
            do throws(WhipError) { result = .success(try await Pages.publicBundle(node, id, cache: bundles)) } catch {
                result = .failure(error)
            }
            if case .failure(let e) = result, e.code == .rejected {
                return pages.message(
                    .forbidden, title: "Not offered here",
                    text: "This community holds pledges in the old format, whose sealed contact details are inside the signed events, "
                        + "so this node does not hand its events to anyone who asks.")
            }
            guard let bundle = try result.get() else { return Pages.notFound(pages) }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/octet-stream",
                    .contentDisposition: "attachment; filename=\"whipround-\(id.hex.prefix(12)).bundle\"",
                    HTTPField.Name("X-Whipround-Digest")!: bundle.digest,
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bundle.bytes)))
        }
        router.get("/feed.atom") { request, _ in
            let base = pages.baseURL(request)
            let all = try await PublicCampaign.all(node)
            let ids = all.map { ($0.row.id, $0.row.title) }
            let news = try await node.read { store throws(WhipError) in
                var out: [(UpdateRow, String)] = []
                for (id, title) in ids { out += try store.updates(campaign: id).map { ($0, title) } }
                return out
            }
            let communities = Set(all.map(\.communityName)).sorted()
            let feed = AtomFeed(
                id: "urn:whipround:node:\(node.memberID)",
                title: communities.count == 1 ? "\(communities[0]): campaigns" : "Whipround campaigns",
                selfLink: "\(base)/feed.atom", siteLink: "\(base)/",
                entries: all.map { AtomFeed.campaignEntry($0, base: base) } + news.map { AtomFeed.updateEntry($0.0, campaign: $0.1, base: base) },
                now: node.now)
            return Response(
                status: .ok, headers: [.contentType: "application/atom+xml; charset=utf-8", .cacheControl: "max-age=60"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: feed.xml)))
        }
    }
}
