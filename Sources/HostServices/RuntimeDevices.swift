public import AirlockCore
internal import Store

/// The device nodes a bundle's runtime unit allows: none for a CPU variant; for a variant that
/// runs on an NVIDIA GPU (`gpu` or `cuda>=` in its `requires`) the nodes CUDA opens, as the host
/// has them when the units are rendered (`HostProbe.cudaDeviceNodes`: `nvidiactl`, `nvidia-uvm`,
/// `nvidia-uvm-tools`, every `nvidiaN`; never `nvidia-modeset`).
///
/// A GPU variant on a host without a GPU node or without `nvidia-uvm` is refused: its runtime
/// would not fail but fall back to the CPU without saying so (llama.cpp does).
public enum RuntimeDevices {
    public static func nodes(for plan: ServicePlan, hostRoot: String) throws(AirlockError) -> [String] {
        guard plan.runsOnGPU else { return [] }
        let nodes = try HostProbe(root: hostRoot).cudaDeviceNodes()
        let lacking =
            nodes.isEmpty
            ? "no NVIDIA GPU device node (/dev/nvidiaN beside /dev/nvidiactl)"
            : nodes.contains("/dev/nvidia-uvm") ? nil : "no /dev/nvidia-uvm (CUDA's unified memory device)"
        if let lacking {
            throw AirlockError(
                .refused,
                "\(plan.name) \(plan.version) runs its \(plan.variant) runtime on an NVIDIA GPU, but this host has \(lacking): "
                    + "load the NVIDIA modules and create their device nodes at boot (for example 'nvidia-modprobe -u -c=0'), "
                    + "then 'airlock activate \(plan.name) \(plan.version)' renders the units again")
        }
        return nodes
    }
}
