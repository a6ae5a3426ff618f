// The WHATSAT reply of design §3, assembled from a Places JSON body:
//
//   <the stored AT line>\n<the body, pretty-printed, `results` cut to `bound`>\n\n
//
// The body is re-emitted with 3-space indentation, every key and its order kept, numbers written
// exactly as the provider wrote them; runs of newlines are collapsed and the reply ends in
// exactly "}\n\n". A body that is not a JSON object, or whose `status` is not OK or
// ZERO_RESULTS, gets the failure framing instead.
#pragma once

#include <string>
#include <string_view>

namespace herd {

// True for the Places statuses that are answers (OK, ZERO_RESULTS); any other status is a failure.
bool places_status_is_answer(std::string_view status);

std::string format_whatsat_reply(std::string_view at_line, std::string_view places_body,
                                 unsigned bound);

// The failure framing: the AT line, then
// {"html_attributions": [], "results": [], "status": "<STATUS>"}
// A status that is not an upper-case identifier becomes UNKNOWN_ERROR.
std::string format_whatsat_failure(std::string_view at_line, std::string_view status);

}  // namespace herd
