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

// A provider's answer is outside our control (a misconfigured URL, a compromised proxy): one
// nested deeper than this is no Places answer (Google's are 4-6 deep). It gets the failure
// framing with UNKNOWN_ERROR, and nothing is parsed recursively, so no answer can exhaust the
// stack or grow the reply's indentation without end.
inline constexpr int places_json_depth_max = 64;
// The pretty-printed body of one WHATSAT reply at most (Google's 20 results make about 40 KB):
// indentation can multiply a deep answer's size, so past this the reply is the failure body with
// UNKNOWN_ERROR, and the work stops there.
inline constexpr std::size_t places_reply_bytes_max = std::size_t{1} << 20;

// True when no container in `json` (objects and arrays, outside strings) is nested deeper than
// `depth_max`; a linear scan, no recursion. Unbalanced text is left for the parser to refuse.
bool json_nesting_within(std::string_view json, int depth_max);

// True for the Places statuses that are answers (OK, ZERO_RESULTS); any other status is a failure.
bool places_status_is_answer(std::string_view status);

// `malformed` (if given) is set when the body was no JSON object within places_json_depth_max.
std::string format_whatsat_reply(std::string_view at_line, std::string_view places_body,
                                 unsigned bound, bool* malformed = nullptr);

// The failure framing: the AT line, then
// {"html_attributions": [], "results": [], "status": "<STATUS>"}
// A status that is not an upper-case identifier becomes UNKNOWN_ERROR.
std::string format_whatsat_failure(std::string_view at_line, std::string_view status);

}  // namespace herd
