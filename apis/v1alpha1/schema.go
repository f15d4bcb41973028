package v1alpha1

import _ "embed"

// Schema is the OpenAPI v3 schema of XRestateStack's served version, with its
// CEL rules, exactly as the XRD (compositions/definition.yaml) serves it.
// `make generate` writes both from these types. The function validates
// composites against it, so `crossplane composition render` refuses what the API
// server refuses.
//
//go:embed zz_generated.schema.json
var Schema []byte
