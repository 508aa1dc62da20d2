from temporalio.client import Client

from tenantry.contracts.common import SA_SUBDOMAIN


async def test_search_attributes_are_registered(temporal_client: Client) -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    resp = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_client.namespace)
    )
    assert SA_SUBDOMAIN.name in resp.custom_attributes
