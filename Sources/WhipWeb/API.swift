import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WhipCore
import WhipNode
import WhipStore

/// The JSON API under `/api/v1` (Sources/WhipWeb/Assets/openapi.json describes it), and its error shape.
enum API {
    /// The desk's session cookie.
    static let cookie = "wr_desk"
    /// The header that carries the desk's CSRF token on every state-changing request.
    static let csrfHeader = HTTPField.Name("X-Whipround-CSRF")!
    /// Longest backer name, in characters (as in `EventLimits`, counted the way people count).
    static let maxNameCharacters = 80
    /// Longest email, phone or address, in characters.
    static let maxContactCharacters = 200

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// `value` as JSON text.
    static func json(_ value: some Encodable) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A JSON answer.
    static func response(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json(value))))
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    /// The documented error answer: `{"error": {"code": …, "message": …}}`.
    static func error(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
        response(status, ErrorBody(error: .init(code: code, message: message)))
    }

    /// How a `WhipError` from a desk's session reads over HTTP.
    static func sessionError(_ e: WhipError) -> (HTTPResponse.Status, String) {
        switch e.code {
        case .notFound: (.unauthorized, "desk.no_session")
        case .rejected: (.gone, e.message.contains("closed") ? "desk.closed" : "desk.expired")
        default: (.internalServerError, "internal")
        }
    }

    /// How a `WhipError` from recording a pledge reads over HTTP.
    static func pledgeError(_ e: WhipError) -> Response {
        switch e.code {
        case .invalidArgument: error(.badRequest, code: "pledge.invalid", e.message)
        case .rejected, .alreadyExists: error(.conflict, code: "pledge.refused", e.message)
        case .permissionDenied: error(.forbidden, code: "pledge.refused", e.message)
        case .notFound: error(.notFound, code: "not_found", e.message)
        default: error(.internalServerError, code: "internal", "the node could not record the pledge: \(e.message)")
        }
    }

    // MARK: Bodies

    /// The body of `POST /api/v1/desk/pledges`.
    struct PledgeBody: Decodable {
        struct GiftAid: Decodable {
            let title: String?
            let firstName: String
            let lastName: String
            let house: String
            let postcode: String
            let scope: String?
            let oral: Bool?
        }
        let key: String
        let name: String?
        let anonymous: Bool?
        let amount: String
        let tier: String?
        let payment: String
        let email: String?
        let phone: String?
        let address: String?
        let giftAid: GiftAid?
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// The request a body describes, checked field by field; `today` dates a Gift Aid declaration.
    static func request(_ b: PledgeBody, today: CivilDate) throws(WhipError) -> DeskPledgeRequest {
        func field(_ name: String, _ value: String?, max: Int) throws(WhipError) -> String? {
            guard let v = value?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            guard v.count <= max else { throw WhipError(.invalidArgument, "\(name): at most \(max) characters") }
            return v
        }
        var r = DeskPledgeRequest(key: b.key, name: try field("name", b.name, max: maxNameCharacters) ?? "", amount: b.amount)
        r.anonymous = b.anonymous ?? false
        r.tier = b.tier
        switch b.payment {
        case "promised": r.paid = nil
        default:
            guard let m = PaymentMethod(name: b.payment) else {
                throw WhipError(.invalidArgument, "payment: one of cash, transfer, contactless or promised")
            }
            r.paid = m
        }
        r.contact = Contact(
            email: try field("email", b.email, max: maxContactCharacters), phone: try field("phone", b.phone, max: maxContactCharacters),
            address: try field("address", b.address, max: maxContactCharacters))
        if let g = b.giftAid {
            guard let scope = GiftAidDeclaration.Scope(name: g.scope ?? "this-donation") else {
                throw WhipError(.invalidArgument, "gift_aid.scope: this-donation or past-and-future")
            }
            r.giftAid = GiftAidDeclaration(
                title: try field("gift_aid.title", g.title, max: 4), firstName: g.firstName.trimmingCharacters(in: .whitespaces),
                lastName: g.lastName.trimmingCharacters(in: .whitespaces), house: g.house.trimmingCharacters(in: .whitespaces),
                postcode: GiftAidDeclaration.normalisePostcode(g.postcode), scope: scope, date: today, oral: g.oral ?? false)
        }
        return r
    }

    /// What `POST /api/v1/desk/pledges` and `/undo` answer.
    struct Receipt: Encodable {
        let pledge: String
        let reference: String
        let amount: String
        let amountMinor: Int64
        let status: String
        let waitlisted: Bool
        let duplicate: Bool
        let campaign: CampaignSummary

        init(_ r: DeskReceipt, tiers: [TierRow], now: UInt64) {
            pledge = r.pledge.id.hex
            reference = r.reference
            amount = r.pledge.amount.formatted
            amountMinor = r.pledge.amount.minor
            status = r.pledge.status
            waitlisted = r.pledge.waitlisted
            duplicate = r.duplicate
            campaign = CampaignSummary(r.campaign, tiers: tiers, now: now)
        }
    }

    /// What `GET /api/v1/desk` answers.
    struct DeskView: Encodable {
        struct Desk: Encodable {
            let name: String
            let until: String?
            let state: String
        }
        let desk: Desk
        let campaign: CampaignSummary
        let csrf: String
    }
}
