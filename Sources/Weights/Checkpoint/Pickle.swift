import Foundation

/// A module-qualified name a pickle refers to with GLOBAL or STACK_GLOBAL.
public struct PickleGlobal: Hashable, Sendable, CustomStringConvertible {
    public let module: String
    public let name: String

    public init(_ module: String, _ name: String) {
        self.module = module
        self.name = name
    }

    public var description: String { "\(module).\(name)" }

    static let orderedDict = PickleGlobal("collections", "OrderedDict")
}

/// A value read from a pickle. Nothing in it was executed: a REDUCE of an allowed callable is
/// kept as `.call` for the caller to interpret.
public indirect enum PickleValue: Hashable, Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list([PickleValue])
    /// Entries in insertion order (a Python dict or OrderedDict).
    case dict([DictEntry])
    case global(PickleGlobal)
    /// BINPERSID: the pickler's reference to data kept outside the pickle (torch's storages).
    case persistentID(PickleValue)
    case call(PickleGlobal, arguments: [PickleValue])

    public struct DictEntry: Hashable, Sendable {
        public let key: PickleValue
        public let value: PickleValue
    }
}

public struct PickleError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case truncated
        case unknownOpcode(UInt8)
        case unsupportedProtocol(Int)
        case disallowedGlobal(PickleGlobal)
        case stackUnderflow
        case missingMark
        case unknownMemoIndex(Int)
        case invalidUTF8
        case integerTooLarge
        case limitExceeded(String, limit: Int)
        case unexpectedType(String)
        /// A container changed after it was placed inside another one: only recursive or
        /// self-referencing structures do that, and a state dict is neither.
        case mutatedAfterNesting
        case unsupportedReduce(PickleGlobal)
        case unsupportedBuild
    }

    public let kind: Kind
    /// Byte offset of the opcode that failed.
    public let offset: Int

    public var description: String {
        let what: String
        switch kind {
        case .truncated: what = "the pickle ends before its STOP opcode"
        case .unknownOpcode(let op): what = "opcode 0x\(String(op, radix: 16)) is not supported"
        case .unsupportedProtocol(let p): what = "pickle protocol \(p) is not supported"
        case .disallowedGlobal(let g): what = "global \(g) is not on the allow-list; nothing is executed"
        case .stackUnderflow: what = "the opcode needs more values than the stack holds"
        case .missingMark: what = "the opcode needs a MARK that was never pushed"
        case .unknownMemoIndex(let i): what = "memo index \(i) was never stored"
        case .invalidUTF8: what = "a string is not valid UTF-8"
        case .integerTooLarge: what = "an integer does not fit in 64 bits"
        case .limitExceeded(let name, let limit): what = "\(name) exceeds the limit of \(limit)"
        case .unexpectedType(let s): what = s
        case .mutatedAfterNesting: what = "a container is changed after being nested (recursive structures are not supported)"
        case .unsupportedReduce(let g): what = "calling \(g) with these arguments is not supported"
        case .unsupportedBuild: what = "BUILD is only supported to set a state dict's _metadata"
        }
        return "pickle offset \(offset): \(what)"
    }
}

/// A pickle reader for what `torch.save` writes for a state dict, in the spirit of
/// `torch.load(weights_only=True)`: a fixed set of opcodes, globals only from an allow-list, and
/// no code run — REDUCE of an allowed callable yields `.call`, except `OrderedDict()` which yields
/// an empty dict. Every length is checked against the remaining input before use, and stack,
/// memo, nesting and output size are bounded, so any byte string gives a value or a `PickleError`.
public struct Pickle {
    public struct Limits: Sendable {
        public var maxDepth = 64
        public var maxStack = 1 << 20
        public var maxMemo = 1 << 20
        /// Values in the result, counting each use of a memoized value again.
        public var maxValues = 1 << 20
        public init() {}
    }

    /// The globals a state dict saved by torch refers to. Storage classes other than float32 and
    /// int64 are allowed here so the checkpoint loader can name them in its refusal.
    public static let stateDictGlobals: Set<PickleGlobal> = {
        let storages = ["FloatStorage", "LongStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
                        "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"]
        return Set([PickleGlobal.orderedDict,
                    PickleGlobal("torch._utils", "_rebuild_tensor_v2"),
                    PickleGlobal("torch._utils", "_rebuild_parameter")]
                   + storages.map { PickleGlobal("torch", $0) })
    }()

    /// Reads one pickle from the start of `bytes`; bytes after its STOP are ignored, as in Python.
    public static func load(_ bytes: [UInt8], allowedGlobals: Set<PickleGlobal> = stateDictGlobals,
                            limits: Limits = Limits()) throws -> PickleValue {
        var offset = 0
        return try load(Data(bytes), at: &offset, allowedGlobals: allowedGlobals, limits: limits)
    }

    /// Reads the pickle starting `offset` bytes into `bytes` and moves `offset` past its STOP,
    /// for formats that store several pickles in a row.
    public static func load(_ bytes: Data, at offset: inout Int, allowedGlobals: Set<PickleGlobal> = stateDictGlobals,
                            limits: Limits = Limits()) throws -> PickleValue {
        var machine = Machine(bytes: bytes, start: offset, allowed: allowedGlobals, limits: limits)
        let top = try machine.run()
        var budget = limits.maxValues
        let value = try machine.value(of: top, budget: &budget)
        offset = machine.position
        return value
    }
}

/// A list or dict under construction: pickles fill containers after memoizing them, so they
/// need reference semantics. Once nested in another value a container is sealed, which keeps
/// the structure acyclic and its recorded depth exact.
private final class Container {
    enum Kind { case list, dict }
    let kind: Kind
    var items: [Item] = []
    var keys: [PickleValue] = []
    var keyIndex: [PickleValue: Int] = [:]
    var depth = 1
    var sealed = false

    init(_ kind: Kind) { self.kind = kind }
}

private indirect enum Item {
    case scalar(PickleValue)
    case container(Container)
    case tuple([Item], depth: Int)
    case persistentID(Item, depth: Int)
    case call(PickleGlobal, [Item], depth: Int)

    var depth: Int {
        switch self {
        case .scalar: 0
        case .container(let c): c.depth
        case .tuple(_, let d), .persistentID(_, let d), .call(_, _, let d): d
        }
    }
}

private struct Machine {
    /// The input; `position` and error offsets count from its start.
    let bytes: Data
    let allowed: Set<PickleGlobal>
    let limits: Pickle.Limits
    var position = 0
    var opcodeOffset = 0
    var stack: [Item] = []
    var marks: [Int] = []
    var memo: [Int: Item] = [:]

    init(bytes: Data, start: Int, allowed: Set<PickleGlobal>, limits: Pickle.Limits) {
        self.bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        position = start
        self.allowed = allowed
        self.limits = limits
    }

    func fail(_ kind: PickleError.Kind) -> PickleError { PickleError(kind: kind, offset: opcodeOffset) }

    // MARK: Reading the input

    mutating func take(_ count: Int) throws -> Data {
        guard position >= 0, count >= 0, position <= bytes.count, count <= bytes.count - position else {
            throw fail(.truncated)
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// A little-endian unsigned integer of `count` bytes.
    mutating func unsigned(_ count: Int) throws -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func string(length: UInt64) throws -> String {
        guard length <= UInt64(bytes.count - position) else { throw fail(.truncated) }
        guard let s = String(validating: try take(Int(length)), as: UTF8.self) else { throw fail(.invalidUTF8) }
        return s
    }

    /// One newline-terminated line of GLOBAL's text operand.
    mutating func line() throws -> String {
        guard position <= bytes.count,
              let end = bytes[position..<min(bytes.count, position + 256)].firstIndex(of: 0x0A) else {
            throw fail(.truncated)
        }
        let s = try string(length: UInt64(end - position))
        position += 1
        return s
    }

    // MARK: The stack

    mutating func push(_ item: Item) throws {
        guard stack.count < limits.maxStack else { throw fail(.limitExceeded("stack size", limit: limits.maxStack)) }
        stack.append(item)
    }

    mutating func pop() throws -> Item {
        guard let top = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail(.stackUnderflow) }
        return top
    }

    /// The item on top of the stack, which stays there; it must lie above the last MARK.
    func top() throws -> Item {
        guard let item = stack.last, stack.count > (marks.last ?? 0) else { throw fail(.stackUnderflow) }
        return item
    }

    /// The items pushed since the last MARK, which is removed.
    mutating func popMark() throws -> [Item] {
        guard let mark = marks.popLast() else { throw fail(.missingMark) }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    mutating func memoize(_ index: Int) throws {
        guard let top = stack.last else { throw fail(.stackUnderflow) }
        guard memo[index] != nil || memo.count < limits.maxMemo else {
            throw fail(.limitExceeded("memo size", limit: limits.maxMemo))
        }
        memo[index] = top
    }

    mutating func recall(_ index: Int) throws {
        guard let item = memo[index] else { throw fail(.unknownMemoIndex(index)) }
        try push(item)
    }

    // MARK: Nesting

    /// Marks `children` as nested and returns the depth of a value holding them.
    func nest(_ children: [Item]) throws -> Int {
        let depth = 1 + children.reduce(0) { max($0, $1.depth) }
        guard depth <= limits.maxDepth else { throw fail(.limitExceeded("nesting depth", limit: limits.maxDepth)) }
        for case .container(let c) in children { c.sealed = true }
        return depth
    }

    func tuple(_ items: [Item]) throws -> Item { .tuple(items, depth: try nest(items)) }

    func container(_ item: Item, _ kind: Container.Kind) throws -> Container {
        guard case .container(let c) = item, c.kind == kind else {
            throw fail(.unexpectedType("expected a \(kind) to add items to"))
        }
        return c
    }

    func append(_ values: [Item], to target: Item) throws {
        let list = try container(target, .list)
        let depth = try nest(values)
        guard !list.sealed else { throw fail(.mutatedAfterNesting) }
        list.depth = max(list.depth, depth)
        list.items += values
    }

    func setItems(_ pairs: [Item], in target: Item) throws {
        let dict = try container(target, .dict)
        guard pairs.count % 2 == 0 else { throw fail(.unexpectedType("SETITEMS needs key-value pairs")) }
        let depth = try nest(pairs)
        guard !dict.sealed else { throw fail(.mutatedAfterNesting) }
        dict.depth = max(dict.depth, depth)
        for i in stride(from: 0, to: pairs.count, by: 2) {
            guard case .scalar(let key) = pairs[i] else { throw fail(.unexpectedType("a dict key must be a plain value")) }
            if let existing = dict.keyIndex[key] {
                dict.items[existing] = pairs[i + 1]
            } else {
                dict.keyIndex[key] = dict.keys.count
                dict.keys.append(key)
                dict.items.append(pairs[i + 1])
            }
        }
    }

    // MARK: Globals, REDUCE and BUILD

    func global(_ module: String, _ name: String) throws -> Item {
        let g = PickleGlobal(module, name)
        guard allowed.contains(g) else { throw fail(.disallowedGlobal(g)) }
        return .scalar(.global(g))
    }

    func reduce(_ callable: Item, _ arguments: Item) throws -> Item {
        guard case .scalar(.global(let g)) = callable else { throw fail(.unexpectedType("REDUCE needs an allowed global")) }
        guard case .tuple(let args, _) = arguments else { throw fail(.unexpectedType("REDUCE needs a tuple of arguments")) }
        if g == .orderedDict {
            guard args.isEmpty else { throw fail(.unsupportedReduce(g)) }
            return .container(Container(.dict))
        }
        return .call(g, args, depth: try nest([callable] + args))
    }

    /// torch pickles a state dict's `_metadata` attribute (module versions, used only by torch's
    /// own load_state_dict migrations) with BUILD; it carries no tensor, so it is dropped.
    func build(_ target: Item, state: Item) throws {
        guard case .container(let object) = target, object.kind == .dict, !object.sealed,
              case .container(let attributes) = state, attributes.kind == .dict,
              attributes.keys == [.string("_metadata")] else { throw fail(.unsupportedBuild) }
        _ = try nest([state])
    }

    // MARK: The interpreter

    mutating func run() throws -> Item {
        while true {
            opcodeOffset = position
            let op = try take(1).first ?? 0
            switch op {
            case 0x80: // PROTO
                let version = Int(try unsigned(1))
                guard (2...5).contains(version) else { throw fail(.unsupportedProtocol(version)) }
            case 0x95: // FRAME: a length prefix for buffering; the content follows inline
                guard try unsigned(8) <= UInt64(bytes.count - position) else { throw fail(.truncated) }
            case 0x2E: // STOP
                guard let top = stack.last, marks.isEmpty else { throw fail(.stackUnderflow) }
                return top
            case 0x28: // MARK
                guard marks.count < limits.maxDepth else { throw fail(.limitExceeded("open marks", limit: limits.maxDepth)) }
                marks.append(stack.count)
            case 0x7D: try push(.container(Container(.dict)))  // EMPTY_DICT
            case 0x5D: try push(.container(Container(.list)))  // EMPTY_LIST
            case 0x29: try push(.tuple([], depth: 1))         // EMPTY_TUPLE
            case 0x74: try push(try tuple(try popMark()))      // TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let count = Int(op - 0x84)
                var items: [Item] = []
                for _ in 0..<count { items.insert(try pop(), at: 0) }
                try push(try tuple(items))
            case 0x61: // APPEND
                let value = try pop()
                try append([value], to: try top())
            case 0x65: // APPENDS
                let values = try popMark()
                try append(values, to: try top())
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], in: try top())
            case 0x75: // SETITEMS
                let pairs = try popMark()
                try setItems(pairs, in: try top())
            case 0x4A: try push(.scalar(.int(Int64(Int32(truncatingIfNeeded: try unsigned(4))))))  // BININT
            case 0x4B: try push(.scalar(.int(Int64(try unsigned(1)))))  // BININT1
            case 0x4D: try push(.scalar(.int(Int64(try unsigned(2)))))  // BININT2
            case 0x8A: try push(.scalar(.int(try long(Int(try unsigned(1))))))  // LONG1
            case 0x47: try push(.scalar(.float(Double(bitPattern: try bigEndianDouble()))))  // BINFLOAT
            case 0x58: try push(.scalar(.string(try string(length: try unsigned(4)))))  // BINUNICODE
            case 0x8C: try push(.scalar(.string(try string(length: try unsigned(1)))))  // SHORT_BINUNICODE
            case 0x8D: try push(.scalar(.string(try string(length: try unsigned(8)))))  // BINUNICODE8
            case 0x71: try memoize(Int(try unsigned(1)))  // BINPUT
            case 0x72: try memoize(Int(try unsigned(4)))  // LONG_BINPUT
            case 0x94: try memoize(memo.count)            // MEMOIZE
            case 0x68: try recall(Int(try unsigned(1)))   // BINGET
            case 0x6A: try recall(Int(try unsigned(4)))   // LONG_BINGET
            case 0x89: try push(.scalar(.bool(false)))    // NEWFALSE
            case 0x88: try push(.scalar(.bool(true)))     // NEWTRUE
            case 0x4E: try push(.scalar(.none))           // NONE
            case 0x51: // BINPERSID
                let id = try pop()
                try push(.persistentID(id, depth: try nest([id])))
            case 0x63: // GLOBAL
                let module = try line()
                try push(try global(module, try line()))
            case 0x93: // STACK_GLOBAL
                guard case .scalar(.string(let name)) = try pop(), case .scalar(.string(let module)) = try pop() else {
                    throw fail(.unexpectedType("STACK_GLOBAL needs two strings"))
                }
                try push(try global(module, name))
            case 0x52: // REDUCE
                let arguments = try pop()
                try push(try reduce(try pop(), arguments))
            case 0x62: // BUILD
                let state = try pop()
                try build(try top(), state: state)
            default:
                throw fail(.unknownOpcode(op))
            }
        }
    }

    /// LONG1's operand: a little-endian two's-complement integer of `count` bytes.
    mutating func long(_ count: Int) throws -> Int64 {
        guard count <= 8 else { throw fail(.integerTooLarge) }
        guard count > 0 else { return 0 }
        let raw = try unsigned(count)
        let shift = UInt64(64 - 8 * count)
        return Int64(bitPattern: raw << shift) >> shift
    }

    mutating func bigEndianDouble() throws -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    // MARK: The result

    /// The immutable value of `item`; each value produced is charged to `budget`, which bounds
    /// the output even when memoized values are used many times.
    func value(of item: Item, budget: inout Int) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw fail(.limitExceeded("number of values", limit: limits.maxValues)) }
        switch item {
        case .scalar(let v):
            return v
        case .tuple(let items, _):
            return .tuple(try items.map { try value(of: $0, budget: &budget) })
        case .persistentID(let id, _):
            return .persistentID(try value(of: id, budget: &budget))
        case .call(let g, let args, _):
            return .call(g, arguments: try args.map { try value(of: $0, budget: &budget) })
        case .container(let c) where c.kind == .list:
            return .list(try c.items.map { try value(of: $0, budget: &budget) })
        case .container(let c):
            return .dict(try zip(c.keys, c.items).map {
                PickleValue.DictEntry(key: $0, value: try value(of: $1, budget: &budget))
            })
        }
    }
}
