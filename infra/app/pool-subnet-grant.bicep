// The subnet-join role (defined in pool-grants.bicep) for the app on one subnet tenants' pools may join:
// Batch refuses a pool in a subnet unless its caller may perform
// Microsoft.Network/virtualNetworks/subnets/join/action there.
param virtualNetworkName string
param subnetName string
param appPrincipalId string
@description('Name (a GUID) of the custom subnet-join role in this subscription.')
param subnetJoinRoleName string

resource network 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: virtualNetworkName
}

resource subnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: network
  name: subnetName
}

resource joinSubnet 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subnet.id, appPrincipalId, subnetJoinRoleName)
  scope: subnet
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', subnetJoinRoleName)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
