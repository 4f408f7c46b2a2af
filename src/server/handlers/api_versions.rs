//! ApiVersions: the list of what kafkasim implements, from `protocol::SUPPORTED`.

use crate::protocol::codes::ErrorCode;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;

use crate::protocol::SUPPORTED;

pub fn handle() -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.error_code = ErrorCode::NONE.code();
    response.api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *key as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    response
}
