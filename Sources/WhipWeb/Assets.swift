/// The page assets compiled into the binary (SwiftPM's `embedInCode`), by file name.
enum Assets {
    /// The bytes of `name` (e.g. `desk.css`), or nil.
    static func bytes(_ name: String) -> [UInt8]? {
        switch name {
        case "desk.css": PackageResources.desk_css
        default: nil
        }
    }
}
