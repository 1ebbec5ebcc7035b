// Grouping of jobs by source tensor (kquant/job.h), shared by the CPU and CUDA backends.
#include "kquant/job.h"

#include <algorithm>

namespace kquant {

std::vector<std::vector<size_t>> jobs_by_source(const std::vector<QuantJob>& jobs) {
    std::vector<std::vector<size_t>> groups;
    for (size_t j = 0; j < jobs.size(); ++j) {
        const QuantJob& a = jobs[j];
        auto same = [&](const std::vector<size_t>& g) {
            const QuantJob& b = jobs[g.front()];
            return a.src == b.src && a.src_type == b.src_type && a.n_per_row == b.n_per_row && a.nrows == b.nrows;
        };
        auto it = std::find_if(groups.begin(), groups.end(), same);
        if (it == groups.end())
            groups.push_back({j});
        else
            it->push_back(j);
    }
    return groups;
}

}  // namespace kquant
