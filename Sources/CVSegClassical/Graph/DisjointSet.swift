/// A disjoint-set forest (union–find) over the elements `0..<count`.
///
/// Union by size and path compression (halving in ``find(_:)``), so a sequence of `m` operations
/// costs O(m α(n)). The size of every set is kept at its root and can be read with
/// ``size(of:)``; which element becomes the root is an implementation detail (the larger set's
/// root, the smaller index on ties), so callers that need a canonical representative should
/// relabel, as ``felzenszwalb(_:scale:sigma:minSize:)`` does.
///
/// References: R. E. Tarjan, "Efficiency of a good but not linear set union algorithm",
/// J. ACM 22(2), 1975.
public struct DisjointSet: Sendable {
    /// `parent[i] == i` for roots.
    private var parent: [Int]
    /// The number of elements of the set rooted at `i` (meaningful at roots only).
    private var sizes: [Int]
    /// The number of disjoint sets.
    public private(set) var setCount: Int

    /// `count` singleton sets.
    public init(count: Int) {
        precondition(count >= 0, "negative disjoint-set size \(count)")
        parent = Array(0..<count)
        sizes = [Int](repeating: 1, count: count)
        setCount = count
    }

    /// The number of elements.
    public var count: Int { parent.count }

    /// The root of the set that holds `i`; compresses the path on the way (path halving).
    public mutating func find(_ i: Int) -> Int {
        var i = i
        while parent[i] != i {
            let grandparent = parent[parent[i]]
            parent[i] = grandparent
            i = grandparent
        }
        return i
    }

    /// The number of elements in the set that holds `i`.
    public mutating func size(of i: Int) -> Int { sizes[find(i)] }

    /// Merges the sets that hold `a` and `b`.
    /// - Returns: the root of the merged set (the old root when they were already one set).
    @discardableResult
    public mutating func union(_ a: Int, _ b: Int) -> Int {
        var ra = find(a), rb = find(b)
        if ra == rb { return ra }
        if sizes[ra] < sizes[rb] || (sizes[ra] == sizes[rb] && rb < ra) { swap(&ra, &rb) }
        parent[rb] = ra
        sizes[ra] += sizes[rb]
        setCount -= 1
        return ra
    }

    /// Checks the forest's invariants (for tests and `-D CVSEG_CHECKS` builds): parents are in
    /// range, following parents always ends at a root (no cycles) within log2(set size) steps
    /// (the bound that union by size guarantees and compression keeps), each root's size equals
    /// the number of elements that reach it, and `setCount` equals the number of roots.
    public func checkInvariants() {
        let n = parent.count
        var members = [Int](repeating: 0, count: n)
        var depths = [Int](repeating: 0, count: n)
        for i in 0..<n {
            precondition(parent[i] >= 0 && parent[i] < n, "parent[\(i)] = \(parent[i]) out of range")
            var r = i, steps = 0
            while parent[r] != r {
                r = parent[r]
                steps += 1
                precondition(steps <= n, "cycle through element \(i)")
            }
            members[r] += 1
            depths[i] = steps
        }
        for i in 0..<n {
            var r = i
            while parent[r] != r { r = parent[r] }
            precondition(1 << depths[i] <= members[r],
                         "element \(i) is \(depths[i]) steps from its root, too deep for a set of \(members[r])")
        }
        var roots = 0
        for i in 0..<n where parent[i] == i {
            roots += 1
            precondition(sizes[i] == members[i], "root \(i) records size \(sizes[i]) but has \(members[i]) elements")
        }
        precondition(roots == setCount, "setCount \(setCount) but \(roots) roots")
    }
}
