"""The GraphQL documents Canalis sends to Shopify: one selection per stream, reused by paged and bulk reads."""

from __future__ import annotations

MONEY = "shopMoney { amount currencyCode }"

CUSTOMER = """
id legacyResourceId firstName lastName displayName email phone verifiedEmail state locale note tags
numberOfOrders amountSpent { amount currencyCode }
defaultAddress { firstName lastName address1 address2 city province zip country countryCodeV2 phone }
emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
createdAt updatedAt
"""
CUSTOMER_COST = 4

LINE_ITEM = f"id sku name quantity originalUnitPriceSet {{ {MONEY} }}"
LINE_ITEM_COST = 3

ORDER_HEAD = f"""
id legacyResourceId name email phone createdAt updatedAt processedAt closedAt cancelledAt
displayFinancialStatus displayFulfillmentStatus currencyCode sourceName discountCodes
customer {{ id }}
totalPriceSet {{ {MONEY} }}
"""
ORDER_HEAD_COST = 4

VARIANT = """
id legacyResourceId title displayName sku barcode price compareAtPrice inventoryQuantity createdAt updatedAt
inventoryItem { id }
product { id title handle status vendor productType tags }
"""
VARIANT_COST = 3

LOCATION = """
id legacyResourceId name isActive fulfillsOnlineOrders
address { address1 address2 city zip province country countryCode phone }
createdAt updatedAt
"""
LOCATION_COST = 2

INVENTORY_LEVEL = """
id createdAt updatedAt
inventoryItem: item { id sku variant { id } }
location { id name }
available: quantities(names: ["available"]) { name quantity }
onHand: quantities(names: ["on_hand"]) { name quantity }
committed: quantities(names: ["committed"]) { name quantity }
"""
INVENTORY_LEVEL_COST = 7

_CODE_DISCOUNT_COMMON = (
    "title status startsAt endsAt createdAt updatedAt codesCount { count } codes(first: 1) { nodes { code } }"
)
DISCOUNT = f"""
id
codeDiscount {{
  __typename
  ... on DiscountCodeBasic {{
    {_CODE_DISCOUNT_COMMON} summary appliesOncePerCustomer usageLimit asyncUsageCount
    customerGets {{
      value {{
        __typename
        ... on DiscountPercentage {{ percentage }}
        ... on DiscountAmount {{ amount {{ amount currencyCode }} appliesOnEachItem }}
      }}
    }}
  }}
  ... on DiscountCodeBxgy {{ {_CODE_DISCOUNT_COMMON} }}
  ... on DiscountCodeFreeShipping {{ {_CODE_DISCOUNT_COMMON} }}
}}
"""
DISCOUNT_COST = 18

PAGE_INFO = "pageInfo { hasNextPage endCursor }"

SHOP = "query Shop { shop { name myshopifyDomain currencyCode ianaTimezone } }"


def sorted_listing(root: str, selection: str, sort_key: str) -> str:
    """A paged, filtered query of a top-level connection in `sort_key` order."""
    return (
        f"query Read($first: Int!, $after: String, $query: String) {{ {root}(first: $first, after: $after, "
        f"query: $query, sortKey: {sort_key}) {{ nodes {{ {selection} }} {PAGE_INFO} }} }}"
    )


def orders_listing() -> str:
    """Orders in updatedAt order with their first lines."""
    selection = f"{ORDER_HEAD} lineItems(first: $lines) {{ nodes {{ {LINE_ITEM} }} {PAGE_INFO} }}"
    return (
        "query Read($first: Int!, $after: String, $query: String, $lines: Int!) { orders(first: $first, "
        f"after: $after, query: $query, sortKey: UPDATED_AT) {{ nodes {{ {selection} }} {PAGE_INFO} }} }}"
    )


BY_ID = {
    "customers": ("Customer", CUSTOMER, CUSTOMER_COST),
    "variants": ("ProductVariant", VARIANT, VARIANT_COST),
    "locations": ("Location", LOCATION, LOCATION_COST),
    "discounts": ("DiscountCodeNode", DISCOUNT, DISCOUNT_COST),
}
"""Streams whose records are fetched again by id: the node type and the selection a read uses."""


def nodes_by_id(type_name: str, selection: str) -> str:
    """Objects of one type by global id, with a read's selection (ids of another type come back null)."""
    return f"query ById($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on {type_name} {{ {selection} }} }} }}"


def orders_by_id() -> str:
    """Orders by global id with their first lines, as `orders_listing` selects them."""
    selection = f"{ORDER_HEAD} lineItems(first: $lines) {{ nodes {{ {LINE_ITEM} }} {PAGE_INFO} }}"
    return f"query ById($ids: [ID!]!, $lines: Int!) {{ nodes(ids: $ids) {{ ... on Order {{ {selection} }} }} }}"


ORDER_LINES = (
    "query Lines($id: ID!, $after: String) { node(id: $id) { ... on Order { "
    f"lineItems(first: 250, after: $after) {{ nodes {{ {LINE_ITEM} }} {PAGE_INFO} }} }} }} }}"
)

LOCATIONS = (
    "query Read($first: Int!, $after: String) { locations(first: $first, after: $after, includeInactive: true, "
    f"sortKey: ID) {{ nodes {{ {LOCATION} }} {PAGE_INFO} }} }}"
)

LOCATION_IDS = (
    "query Locations($after: String) { locations(first: 250, after: $after, includeInactive: true, sortKey: ID) "
    f"{{ nodes {{ id legacyResourceId name isActive }} {PAGE_INFO} }} }}"
)

INVENTORY_LEVELS = (
    "query Read($location: ID!, $first: Int!, $after: String, $query: String) { location(id: $location) { "
    "inventoryLevels(first: $first, after: $after, query: $query) "
    f"{{ nodes {{ {INVENTORY_LEVEL} }} {PAGE_INFO} }} }} }}"
)

COUNTS = {
    "customers": "query Count($limit: Int) { total: customersCount(limit: $limit) { count precision } }",
    "orders": "query Count($limit: Int) { total: ordersCount(limit: $limit) { count precision } }",
    "variants": "query Count($limit: Int) { total: productVariantsCount(limit: $limit) { count precision } }",
}

# Bulk exports: the same selections without paging arguments (nested connections become JSONL child lines).
BULK = {
    "customers": f"{{ customers(sortKey: UPDATED_AT) {{ edges {{ node {{ {CUSTOMER} }} }} }} }}",
    "orders": (
        f"{{ orders(sortKey: UPDATED_AT) {{ edges {{ node {{ {ORDER_HEAD} "
        f"lineItems {{ edges {{ node {{ {LINE_ITEM} }} }} }} }} }} }} }}"
    ),
    "variants": f"{{ productVariants {{ edges {{ node {{ {VARIANT} }} }} }} }}",
}

BULK_RUN = """
mutation Bulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""
BULK_STATUS = """
query BulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url partialDataUrl query } }
}
"""
BULK_CURRENT = "query Current { currentBulkOperation { id status errorCode objectCount url query } }"
BULK_CANCEL = (
    "mutation Cancel($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { message } } }"
)

VARIANTS_BY_SKU = (
    "query Skus($query: String!, $after: String) { productVariants(first: 250, after: $after, query: $query) "
    "{ nodes { id sku price "
    f"compareAtPrice product {{ id }} inventoryItem {{ id }} }} {PAGE_INFO} }} }}"
)

PRICE_UPDATE_FIELDS = "productVariants { id price compareAtPrice } userErrors { field message code }"

INVENTORY_SET = """
mutation Stock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input){directive} {
    inventoryAdjustmentGroup {
      id
      changes(quantityNames: ["available"]) { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { field message code }
  }
}
"""

LEVELS_BY_ID = (
    'query Levels($ids: [ID!]!) { nodes(ids: $ids) { ... on InventoryLevel { id quantities(names: ["available"]) '
    "{ quantity } } } }"
)

DISCOUNT_BY_CODE = f"query Code($code: String!) {{ codeDiscountNodeByCode(code: $code) {{ {DISCOUNT} }} }}"
DISCOUNT_PAYLOAD = f"codeDiscountNode {{ {DISCOUNT} }} userErrors {{ field message code }}"
DISCOUNT_CREATE = (
    "mutation Create($input: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $input) "
    f"{{ {DISCOUNT_PAYLOAD} }} }}"
)
DISCOUNT_UPDATE = (
    "mutation Update($id: ID!, $input: DiscountCodeBasicInput!) { discountCodeBasicUpdate(id: $id, "
    f"basicCodeDiscount: $input) {{ {DISCOUNT_PAYLOAD} }} }}"
)
DISCOUNT_DEACTIVATE = f"mutation Deactivate($id: ID!) {{ discountCodeDeactivate(id: $id) {{ {DISCOUNT_PAYLOAD} }} }}"
DISCOUNT_ACTIVATE = f"mutation Activate($id: ID!) {{ discountCodeActivate(id: $id) {{ {DISCOUNT_PAYLOAD} }} }}"

CONSENT_FIELDS = "id email emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }"
CUSTOMER_CONSENTS = f"query Consents($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on Customer {{ {CONSENT_FIELDS} }} }} }}"
CUSTOMERS_BY_EMAIL = (
    "query ByEmail($query: String!, $after: String) { customers(first: 250, after: $after, query: $query) "
    f"{{ nodes {{ {CONSENT_FIELDS} }} {PAGE_INFO} }} }}"
)
CONSENT_UPDATE_FIELDS = f"customer {{ {CONSENT_FIELDS} }} userErrors {{ field message code }}"
